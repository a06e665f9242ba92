"""Reproducible views and the teacher bank (`pand_core.data.views`, `pand_core.models.features`): views as functions
of named random streams (`infra.seeds`), held views, the bank and feature caches, and the stratified hold-out."""

from __future__ import annotations

import pytest
import torch

from pand_core.data import load_dataset, paper_train_transform
from pand_core.data.splits import stratified_holdout
from pand_core.data.views import AugmentedViews
from pand_core.infra.seeds import derive_seed, stream_seed, stream_tag
from pand_core.models.features import build_bank, cached_features


def _by_definition(base, transform, index, seed, stream, *keys):
    """Image `index` through `transform` with torch's RNG seeded by `derive_seed(seed, tag of stream, *keys)`: the
    views' contract, written without `AugmentedViews`."""
    from pand_core.data.base import load_image

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, stream_tag(stream), *keys))
        return transform(load_image(base.samples[index][0]))


def test_views_are_functions_of_seed_index_and_epoch(synthetic_root):
    base = load_dataset("cub", synthetic_root, "train")
    transform = paper_train_transform(32, 36)
    online = AugmentedViews(base, transform, seed=7)
    a = online[3][0]
    assert torch.equal(a, _by_definition(base, transform, 3, 7, "online-view", 0, 3))  # epoch 0: (epoch, index)
    online.set_epoch(1)
    assert torch.equal(online[3][0], _by_definition(base, transform, 3, 7, "online-view", 1, 3))
    assert not torch.equal(a, online[3][0])
    banked = AugmentedViews(base, transform, seed=7, views=4)
    seen = set()
    for epoch in range(12):
        banked.set_epoch(epoch)
        x, _, index, view = banked[3]
        assert index == 3 and view == stream_seed("bank-pick", 7, epoch, 3) % 4  # the epoch picks the view...
        assert torch.equal(x, _by_definition(base, transform, 3, 7, "bank-view", 3, view))  # ...seeded by (index, view) only
        seen.add(view)
    assert len(seen) > 1  # epochs draw different views


def test_random_streams_are_named_and_never_share_a_seed():
    """Every stream has its own tag; the draw that once collided (the batch order of epoch e, and the online view
    of image 3 in epoch e, both `(seed, e, 3)`) no longer does; an unknown stream name is refused."""
    from pand_core.infra.seeds import STREAMS

    assert len(set(STREAMS.values())) == len(STREAMS)
    seeds = {(name, e, i): stream_seed(name, 7, e, i) for name in ("online-view", "bank-pick") for e in range(4)
             for i in range(6)}
    seeds.update({("batch-order", e): stream_seed("batch-order", 7, e) for e in range(4)})
    seeds.update({("bank-view", i, v): stream_seed("bank-view", 7, i, v) for i in range(6) for v in range(4)})
    assert len(set(seeds.values())) == len(seeds)
    assert stream_seed("batch-order", 7, 2) != stream_seed("online-view", 7, 2, 3)
    assert stream_seed("miniature-corpus-view", 0, 1, 5) == derive_seed(0, 3_000_017, 1, 5)  # shipped recipe's seeds
    with pytest.raises(ValueError, match="unknown random stream 'batch_order'"):
        stream_seed("batch_order", 7, 0)


def test_seeded_view_equals_a_forked_manual_seed_and_leaves_the_callers_rng_alone(synthetic_root):
    from pand_core.data.base import load_image
    from pand_core.data.views import seeded_view

    image = load_image(load_dataset("cub", synthetic_root, "train").samples[2][0])
    transform = paper_train_transform(32, 36)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        expected = transform(image)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    got = seeded_view(transform, image, 123)
    assert torch.equal(got, expected) and torch.equal(torch.get_rng_state(), before)
    assert not torch.equal(seeded_view(transform, image, 124), expected)


def test_held_views_are_the_seeded_views_and_are_cached(synthetic_root, tmp_path):
    """`view_tensors` holds exactly the pixels the seeded transform makes; a second call reads the cache; a
    dataset over the memory limit is left to make its views on the fly."""
    from pand_core.models.features import view_tensors

    base = load_dataset("cub", synthetic_root, "train")
    views = AugmentedViews(base, paper_train_transform(32, 36), seed=3, views=2, indices=[1, 4, 6])
    held = view_tensors(views, cache_dir=tmp_path, progress=False)
    assert held.shape == (3, 2, 3, 32, 32)
    for i in range(3):
        for v in range(2):
            assert torch.equal(held[i, v], views.view_image(i, v))
    assert len(list((tmp_path / "views").glob("*.pt"))) == 1
    assert torch.equal(view_tensors(views, cache_dir=tmp_path, progress=False), held)
    assert view_tensors(views, limit_bytes=1000) is None
    plain = AugmentedViews(base, paper_train_transform(32, 36), seed=3, views=2, indices=[1, 4, 6])
    views.hold(held)
    for epoch in range(3):
        views.set_epoch(epoch), plain.set_epoch(epoch)
        for i in range(3):
            a, b = views[i], plain[i]
            assert torch.equal(a[0], b[0]) and a[1:] == b[1:]
    with pytest.raises(ValueError, match="held views must be"):
        views.hold(held[:2])


def _view(views, index, view):
    from pand_core.data.base import load_image
    from pand_core.data.views import seeded_view

    return seeded_view(views.transform, load_image(views.base.samples[index][0]), views.view_seed(index, view))


def test_bank_lookup_equals_online_teacher_on_the_same_view(synthetic_root, tiny_teacher, tmp_path):
    base = load_dataset("cub", synthetic_root, "train")
    views = AugmentedViews(base, paper_train_transform(32, 36), seed=1, views=3, indices=[0, 5, 9, 17])
    bank = build_bank(tiny_teacher, views, cache_dir=tmp_path, batch_size=5, progress=False)
    assert bank.shape == (4, 3, tiny_teacher.embed_dim)
    for epoch in (0, 1, 2):
        views.set_epoch(epoch)
        for row, i in enumerate(views.indices):
            x, _, index, view = views[row]
            online = tiny_teacher.encode_image(x[None])[0]
            assert index == i and torch.allclose(bank[row, view], online, atol=1e-5)
    # cached: a second build reads the file instead of running the teacher
    class Boom:
        device = torch.device("cpu")
        name, source, preprocess = tiny_teacher.name, tiny_teacher.source, tiny_teacher.preprocess

        def encode_image(self, x):
            raise AssertionError("teacher ran although the bank was cached")

    assert torch.equal(build_bank(Boom(), views, cache_dir=tmp_path, progress=False), bank)


def test_feature_cache_is_keyed_and_reused(synthetic_root, tiny_teacher, tmp_path, monkeypatch):
    test = load_dataset("cub", synthetic_root, "test")
    f1, y1 = cached_features(tiny_teacher, test, tmp_path, batch_size=7, progress=False)
    files = list((tmp_path / "features").glob("*.pt"))
    assert len(files) == 1 and y1.tolist() == test.targets
    from pand_core.models import features

    monkeypatch.setattr(features, "extract_features", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    f2, _ = cached_features(tiny_teacher, test, tmp_path, progress=False)
    assert torch.equal(f1, f2)
    train = load_dataset("cub", synthetic_root, "train")  # another split is another key
    monkeypatch.undo()
    cached_features(tiny_teacher, train, tmp_path, progress=False)
    assert len(list((tmp_path / "features").glob("*.pt"))) == 2


def test_stratified_holdout():
    labels = [0] * 10 + [1] * 5 + [2] * 1
    keep, held = stratified_holdout(labels, 0.2, seed=0)
    assert sorted(keep + held) == list(range(16)) and not set(keep) & set(held)
    held_labels = [labels[i] for i in held]
    assert held_labels.count(0) == 2 and held_labels.count(1) == 1 and held_labels.count(2) == 0
    assert stratified_holdout(labels, 0.2, seed=0) == (keep, held)
