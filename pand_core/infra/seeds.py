"""Named random streams: every seeded draw says which stream it belongs to, so two draws never share a seed by
accident (bare tags once made the batch order of epoch e, `(seed, e, 3)`, the online view of image 3 in epoch e).

A stream's seed mixes `[seed, tag, *keys]` through numpy's SeedSequence: streams differ in their second entry, so
no keys of one stream can reproduce another's. The miniature's three tags predate this table and keep their values,
so its shipped weights stay what their recipe makes.
"""

from __future__ import annotations

#: Every named random stream and its integer tag (the source names the keys each stream's draws add).
#:
#: :meta hide-value:
STREAMS: dict[str, int] = {
    # Stage 2: what the student sees, and in which order
    "batch-order": 4_000_001,  # (epoch): the permutation of the training images, dealt to the ranks
    "online-view": 4_000_003,  # (epoch, image): the fresh view of an image in one epoch (online teacher)
    "bank-pick": 4_000_007,  # (epoch, image): which of the V stored views an image shows in one epoch (bank)
    "bank-view": 4_000_009,  # (image, view): stored view v of an image, the one the teacher bank encoded
    "device-augment": 4_000_013,  # (epoch, rank, batch): augmentation parameters of one batch made on the device
    # the miniature's pretraining data (values fixed before this table existed)
    "miniature-pretraining": 1_000_003,  # (pair): the teacher's image-caption pairs
    "miniature-upstream": 2_000_003,  # (image): the student's upstream images
    "miniature-corpus-view": 3_000_017,  # (epoch, pair): the augmented view of a pretraining pair
}
SEEDING_VERSION = 2  # 1: bare numeric tags; 2: named streams. Part of every cache key of seeded views.


def derive_seed(*keys: int) -> int:
    """A 63-bit seed mixed from integer keys (numpy's SeedSequence: well spread, stable across platforms).

    Args:
        keys: Integers, mixed in order.
    """
    import numpy as np  # here, so that `config` (which reads SEEDING_VERSION) stays free of array libraries

    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)


def stream_tag(stream: str) -> int:
    """The integer tag of a named stream; an unknown name is an error, not a new stream."""
    try:
        return STREAMS[stream]
    except KeyError:
        raise ValueError(f"unknown random stream {stream!r}; known: {', '.join(STREAMS)}") from None


def stream_seed(stream: str, seed: int, *keys: int) -> int:
    """The seed of draw `keys` in the named `stream` of a run seeded by `seed`: `derive_seed(seed, tag, *keys)`.

    Args:
        stream: A name in `STREAMS`.
        seed: The run's seed.
        keys: The draw's keys within the stream, e.g. (epoch, image).
    """
    return derive_seed(seed, stream_tag(stream), *keys)
