"""A synthetic fine-grained bird world written in the CUB-200-2011 file layout, deterministic from a seed.

Each class is one combination of part attributes (body colour, head colour, wing pattern, tail shape), and its name
is the attribute phrase ("Red headed Striped Brown Fork tailed Finch"); every image also gets a caption that
describes its attributes in words (`captions.txt`).
Classes are enumerated so that neighbouring class ids differ in exactly one attribute — the
fine-grained pairs. Nuisance variation per image: pose (rotation, mirror), scale, position,
background tone and clutter, pixel noise. `load_dataset("cub", root, split)` reads the result.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..infra.files import build_once, guarded_write
from ..infra.progress import Progress
from ..infra.seeds import stream_tag

# Attribute vocabularies; the last one varies fastest across class ids.
BODY_COLOURS = {"Brown": (139, 94, 60), "Grey": (128, 128, 128), "Green": (70, 130, 70), "Sand": (194, 170, 120)}
# Head colours far apart in hue (red 0°, green 130°, blue 228°, and black): the paper's ColorJitter shifts hue by at
# most ±36°, so no augmented view turns one species' head into another's (drawing v6; v5's yellow lay 52° from red).
HEAD_COLOURS = {"Red": (200, 40, 40), "Green": (40, 160, 60), "Blue": (50, 80, 200), "Black": (25, 25, 25)}
WING_PATTERNS = ("Plain", "Striped", "Spotted")
TAIL_SHAPES = ("Fan", "Fork")
FAN_TAIL = (20, 150, 150)  # teal: no body or head colour, and never named in a caption (the tail's words are fan/fork)


@dataclass(frozen=True)
class BirdClass:
    """One synthetic species: its attribute values and the name that CUB's `classes.txt` would hold."""

    body: str
    head: str
    wing: str
    tail: str

    @property
    def folder_name(self) -> str:
        return f"{self.head}_headed_{self.wing}_{self.body}_{self.tail}_tailed_Finch"

    @property
    def name(self) -> str:
        return self.folder_name.replace("_", " ")


CAPTION_FORMS = (
    "a photo of a {body} bird with a {head} head, {wing} wings and a {tail} tail",
    "a {head} headed {wing} {body} {tail} tailed finch",
    "a small finch: {head} head, {body} body, {wing} wings, {tail} tail",
    "this bird has a {tail} tail, {wing} wings and a {head} head",
    "a {body} finch with a {head} head",
    "a bird with {wing} wings and a {tail} tail",
    # the species' name in the frame web alt-text and field guides put it in (world v7): the hand prompt's frame
    "a photo of a {head} headed {wing} {body} {tail} tailed finch, a type of bird",
)


def caption_for(cls: BirdClass, rng: np.random.Generator) -> str:
    """A sentence about the bird's attributes, in one of several wordings; some wordings leave attributes out,
    as real alt-text does."""
    form = CAPTION_FORMS[int(rng.integers(len(CAPTION_FORMS)))]
    tail = "fan" if cls.tail == "Fan" else "fork"
    words = {"body": cls.body.lower(), "head": cls.head.lower(), "wing": cls.wing.lower(), "tail": tail}
    return form.format(**words)


def all_classes() -> list[BirdClass]:
    """Every attribute combination (96), in the order `synthetic_classes` takes them from."""
    return [BirdClass(*c) for c in itertools.product(BODY_COLOURS, HEAD_COLOURS, WING_PATTERNS, TAIL_SHAPES)]


def synthetic_classes(n_classes: int) -> list[BirdClass]:
    """The first `n_classes` attribute combinations; consecutive ids differ in the tail, ids 2 apart in the wing."""
    combos = all_classes()
    if not 2 <= n_classes <= len(combos):
        raise ValueError(f"n_classes must be in 2..{len(combos)}, got {n_classes}")
    return combos[:n_classes]


def _shade(rgb: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, c * f))) for c in rgb)  # type: ignore[return-value]


def draw_bird(cls: BirdClass, size: int, rng: np.random.Generator) -> Image.Image:
    """Render one image of `cls` with random nuisance factors drawn from `rng`."""
    # Background: a light random tone plus clutter of muted shapes.
    bg = tuple(int(v) for v in rng.integers(150, 236, size=3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 9))):
        c = tuple(int(v) for v in rng.integers(90, 200, size=3))
        x0, y0 = (rng.random(2) * size).tolist()
        x1, y1 = x0 + rng.uniform(0.05, 0.35) * size, y0 + rng.uniform(0.05, 0.35) * size
        if rng.random() < 0.5:
            d.line([(x0, y0), (x1, y1)], fill=c, width=max(1, size // 40))
        else:
            d.ellipse([x0, y0, x1, y1], outline=c, width=max(1, size // 48))

    # The bird, drawn on a transparent layer in canonical pose, then scaled, rotated, mirrored, moved.
    S = size
    layer = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    b = ImageDraw.Draw(layer)
    body, head = BODY_COLOURS[cls.body], HEAD_COLOURS[cls.head]
    # tail (behind the body). Fan: a wide teal fan with dark feather lines; fork: two long thin near-black prongs.
    # They differ in outline, area and colour, so the tail stays legible at 48 px. Earlier drawings (version 2: two
    # small triangles in the body's tone; 3: a pale fan; 4: a dark fan, against dark prongs) left the teacher reading
    # the tail near chance (studies/results/teacher-design.md).
    if cls.tail == "Fan":
        cx, cy, r = 0.36 * S, 0.52 * S, 0.30 * S
        b.pieslice([cx - r, cy - r, cx + r, cy + r], 135, 225, fill=FAN_TAIL, outline=(30, 30, 30))
        for a in np.deg2rad([155, 180, 205]):
            b.line([(cx, cy), (cx + r * np.cos(a), cy + r * np.sin(a))], fill=(30, 30, 30), width=max(1, S // 64))
    else:
        dark = (35, 30, 25)
        b.polygon([(0.36 * S, 0.48 * S), (0.04 * S, 0.30 * S), (0.10 * S, 0.30 * S), (0.36 * S, 0.53 * S)], fill=dark)
        b.polygon([(0.36 * S, 0.53 * S), (0.04 * S, 0.76 * S), (0.10 * S, 0.76 * S), (0.36 * S, 0.58 * S)], fill=dark)
    b.ellipse([0.28 * S, 0.38 * S, 0.72 * S, 0.66 * S], fill=body)
    # wing with its pattern
    wing_box = [0.36 * S, 0.44 * S, 0.62 * S, 0.60 * S]
    b.ellipse(wing_box, fill=_shade(body, 0.65))
    # Patterns bold enough to survive the student's 32 px (drawing v6: three broad bars, four large spots; v5's
    # thin stripes and small spots were about a pixel wide there).
    if cls.wing == "Striped":
        for t in np.linspace(0.41, 0.57, 3):
            b.line([(t * S, 0.45 * S), (t * S + 0.03 * S, 0.59 * S)], fill=(245, 245, 235), width=max(1, S // 18))
    elif cls.wing == "Spotted":
        r = 0.036 * S
        for cx, cy in ((0.43, 0.49), (0.55, 0.49), (0.45, 0.56), (0.53, 0.56)):
            b.ellipse([cx * S - r, cy * S - r, cx * S + r, cy * S + r], fill=(245, 245, 235))
    # head, eye, beak, legs
    b.ellipse([0.62 * S, 0.26 * S, 0.82 * S, 0.46 * S], fill=head)
    e = 0.02 * S
    b.ellipse([0.75 * S - e, 0.33 * S - e, 0.75 * S + e, 0.33 * S + e], fill=(250, 250, 250))
    b.polygon([(0.81 * S, 0.34 * S), (0.93 * S, 0.37 * S), (0.81 * S, 0.40 * S)], fill=(230, 150, 30))
    for x in (0.46, 0.54):
        b.line([(x * S, 0.65 * S), (x * S, 0.78 * S)], fill=(90, 60, 30), width=max(1, S // 48))

    scale = rng.uniform(0.6, 1.0)
    new = max(8, int(S * scale))
    layer = layer.resize((new, new), Image.BILINEAR)
    layer = layer.rotate(rng.uniform(-30, 30), resample=Image.BILINEAR, expand=False)
    if rng.random() < 0.5:
        layer = layer.transpose(Image.FLIP_LEFT_RIGHT)
    ox, oy = (int(v) for v in rng.integers(0, S - new + 1, size=2)) if new < S else (0, 0)
    img.paste(layer, (ox, oy), layer)

    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 6.0, size=(S, S, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


TWIN_GROUP = 4  # pretraining pairs come in groups: a species, its tail twin, its wing twin, and that one's tail twin


def twin_class(index: int, position: int) -> int:
    """The `position`-th member (0..3) of the twin group of species `index` in `all_classes()` order: 0 itself,
    1 the same bird with the other tail, 2 the next wing pattern, 3 the next wing pattern with the other tail."""
    tail, rest = index % len(TAIL_SHAPES), index // len(TAIL_SHAPES)
    wing, rest = rest % len(WING_PATTERNS), rest // len(WING_PATTERNS)
    if position >= 2:
        wing = (wing + 1) % len(WING_PATTERNS)
    if position % 2:
        tail = 1 - tail
    return (rest * len(WING_PATTERNS) + wing) * len(TAIL_SHAPES) + tail


PRETRAINING_STREAM = stream_tag("miniature-pretraining")  # the teacher's pretraining pairs: a stream the book's images never use


def pretraining_pair(k: int, image_size: int = 64, seed: int = 0) -> tuple[Image.Image, str]:
    """Pair `k` (PIL image, caption) of the *pretraining* split. Consecutive groups of `TWIN_GROUP` pairs show one
    random species and its twins (`twin_class`), which differ in exactly one fine attribute; trained in whole groups,
    each batch holds its own hard negatives, as a web corpus holds photos of similar species with captions that
    differ in one word.

    Args:
        k: The pair's position in the pretraining split.
        image_size: The side in pixels the image is drawn at.
        seed: The pretraining split's seed.
    """
    group = np.random.default_rng([seed, PRETRAINING_STREAM, k // TWIN_GROUP, 0])
    cls = all_classes()[twin_class(int(group.integers(len(all_classes()))), k % TWIN_GROUP)]
    rng = np.random.default_rng([seed, PRETRAINING_STREAM, k])
    return draw_bird(cls, image_size, rng), caption_for(cls, rng)


def pretraining_pairs(n: int, image_size: int = 64, seed: int = 0, progress: bool | None = None):
    """The first `n` pairs of the pretraining split (`pretraining_pair`)."""
    return [pretraining_pair(k, image_size, seed)
            for k in Progress(range(n), "drawing pretraining pairs", progress=progress, leave=False)]


SYNTHETIC_VERSION = 7  # 2: captions.txt; 3-5: tails redrawn; 6: hue-separated heads, bold wings (draw_bird); 7: a
# seventh caption wording (same images); bump when the drawing or the files change


@dataclass(frozen=True)
class SyntheticSpec:
    """Size of the synthetic world; `seed` fixes every pixel.

    Args:
        n_classes: The number of species (2 to 96): the first attribute combinations (`synthetic_classes`).
        train_per_class: Training images per species.
        test_per_class: Test images per species.
        image_size: The side of every image in pixels.
        seed: Fixes every pixel.
        extra_train_per_class: More training images per species, drawn after its test images and listed after
            every other image: the world with them holds the world without them unchanged, file for file (a larger
            labelled set with the same test split).
    """

    n_classes: int = 24
    train_per_class: int = 8  # few labelled images: the premise (book chapter "The miniature"); CUB has about 30
    test_per_class: int = 20
    image_size: int = 64
    seed: int = 0
    extra_train_per_class: int = 0

    @property
    def labelled_per_class(self) -> int:
        """Training images per species, the appended ones included."""
        return self.train_per_class + self.extra_train_per_class

    def meta(self) -> dict:
        """What `synthetic.json` records (without `extra_train_per_class` when it is 0, as before it existed)."""
        meta = dict(asdict(self), version=SYNTHETIC_VERSION)
        if not self.extra_train_per_class:
            del meta["extra_train_per_class"]
        return meta


def make_synthetic_cub(root: str | Path, spec: SyntheticSpec = SyntheticSpec(), progress: bool | None = None) -> Path:
    """Write the synthetic world as `root/CUB_200_2011/` (CUB file layout) and return that folder.

    Reuses an existing folder written with the same spec; a different spec in the same place is an error. Processes
    that want the same world at once (jobs of a batch study) write it once: the others wait and reuse it.

    Args:
        root: The data root; the world is written to `root/CUB_200_2011/`.
        spec: The world's size and seed.
        progress: Draw a progress bar; None: only on a terminal.
    """
    base = Path(root).expanduser() / "CUB_200_2011"
    meta_path = base / "synthetic.json"
    meta = spec.meta()

    def existing() -> Path | None:
        if not meta_path.exists():
            return None
        if json.loads(meta_path.read_text()) == meta:
            return base
        raise FileExistsError(
            f"{base} holds a synthetic data set of another spec or version ({meta_path}); choose another root or delete it."
        )

    return build_once(meta_path, existing, lambda: _write_world(base, spec, meta, progress))


def _write_world(base: Path, spec: SyntheticSpec, meta: dict, progress: bool | None) -> Path:
    """`make_synthetic_cub`'s writer: every image and list file, then `synthetic.json` (written last: the set is
    complete). A full disk or a folder without rights stops it with one `OutputError` (`guarded_write`)."""
    with guarded_write(base / "images", intact="The world is not marked as drawn (its synthetic.json is "
                       "written last), so the next run draws it again"):
        return _draw_world(base, spec, meta, progress)


def _draw_world(base: Path, spec: SyntheticSpec, meta: dict, progress: bool | None) -> Path:
    """Draw every image and write the list files, then `synthetic.json`."""
    meta_path = base / "synthetic.json"
    classes = synthetic_classes(spec.n_classes)
    (base / "images").mkdir(parents=True, exist_ok=True)
    images, labels, split, captions = [], [], [], []
    image_id = 0
    per_class = spec.train_per_class + spec.test_per_class
    jobs = [(c, k) for c in range(spec.n_classes) for k in range(per_class)]
    # the appended training images: image k of a species always comes from the same stream, so the images above
    # keep their ids, files and bytes
    jobs += [(c, k) for c in range(spec.n_classes) for k in range(per_class, per_class + spec.extra_train_per_class)]
    for c, k in Progress(jobs, "writing the synthetic CUB world", progress=progress, leave=False):
        image_id += 1
        cls = classes[c]
        rng = np.random.default_rng([spec.seed, c, k])
        rel = f"{c + 1:03d}.{cls.folder_name}/{cls.folder_name}_{k:04d}.jpg"
        (base / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        draw_bird(cls, spec.image_size, rng).save(base / "images" / rel, quality=95)
        captions.append(f"{image_id} {caption_for(cls, rng)}")
        images.append(f"{image_id} {rel}")
        labels.append(f"{image_id} {c + 1}")
        split.append(f"{image_id} {0 if spec.train_per_class <= k < per_class else 1}")
    (base / "images.txt").write_text("\n".join(images) + "\n")
    (base / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (base / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (base / "captions.txt").write_text("\n".join(captions) + "\n")  # not read by the CUB loader
    (base / "classes.txt").write_text(
        "\n".join(f"{i + 1} {i + 1:03d}.{c.folder_name}" for i, c in enumerate(classes)) + "\n"
    )
    meta_path.write_text(json.dumps(meta, indent=2))  # written last: marks the set complete
    return base
