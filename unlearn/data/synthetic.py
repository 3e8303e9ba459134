"""A procedurally generated image–caption world: the embedded benchmark.

Every image shows one shape (its CLASS) in one colour and one style on a noisy background.
Colour and style are ATTRIBUTES: a (class, colour) pair is a subgroup of the class, a style
cuts across classes. Captions read like "a photo of a striped red circle", with attributes
sometimes dropped so that bare class prompts ("a picture of a circle") are meaningful.

Shapes also fall into COARSE GROUPS by geometry (GROUPS, like WordNet's groups of ImageNet
classes: marmoset among the monkeys): forgetting one shape while keeping its group siblings is the
fine-class subgroup protocol of the three-stage paper. Groups are metadata only: no caption names
a group, so the tiny CLIPs never learn a word for one.

Parts of the world are held out of pretraining and play the role of the unseen zero-shot
datasets of the papers: some shape×colour pairs, one style and two colours.

Generation is vectorised numpy and deterministic given a seed: the same seed always draws
the same images, on any machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "cross", "star", "crescent", "heart", "arrow", "bar")
COLOURS = {
    "red": (0.92, 0.12, 0.10),
    "green": (0.12, 0.72, 0.16),
    "blue": (0.16, 0.32, 0.96),
    "yellow": (0.95, 0.88, 0.10),
    "purple": (0.58, 0.16, 0.82),
    "orange": (1.00, 0.55, 0.05),
    "white": (0.95, 0.95, 0.95),
    "cyan": (0.10, 0.85, 0.88),
    # never shown in pretraining: the `heldout_colours` suite
    "pink": (1.00, 0.55, 0.75),
    "brown": (0.55, 0.33, 0.12),
}
STYLES = ("solid", "outline", "striped", "dotted", "checkered")
TRAIN_COLOURS = COLOURS.keys() - {"pink", "brown"}
HELDOUT_COLOURS = ("pink", "brown")
HELDOUT_STYLE = "checkered"
TRAIN_STYLES = tuple(s for s in STYLES if s != HELDOUT_STYLE)
# One colour per shape is never paired with that shape in pretraining (`heldout_pairs`).
HELDOUT_PAIRS = (
    ("circle", "green"), ("square", "red"), ("triangle", "purple"), ("diamond", "cyan"),
    ("cross", "yellow"), ("star", "orange"), ("crescent", "blue"), ("heart", "white"),
    ("arrow", "green"), ("bar", "blue"),
)
CAPTION_PREFIXES = ("a photo of a", "a picture of a", "an image of a", "a", "a drawing of a", "there is a")

# coarse group -> its shapes (disjoint; every shape in one): curved outlines, four straight sides,
# and points or spikes
GROUPS = {
    "curved shape": ("circle", "crescent", "heart"),
    "quadrilateral": ("square", "diamond", "bar"),
    "pointed shape": ("triangle", "cross", "star", "arrow"),
}
ATTRIBUTE_VALUES = {"colour": tuple(COLOURS), "style": STYLES}


@dataclass(frozen=True)
class Samples:
    """Images (N,3,H,W) uint8 plus their class index and attribute values."""

    images: np.ndarray
    labels: np.ndarray
    attributes: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.labels)


def _shape_mask(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of one shape in local coordinates (radius ~1, v grows downwards)."""
    if name == "circle":
        return u**2 + v**2 <= 0.9
    if name == "square":
        return np.maximum(abs(u), abs(v)) <= 0.72
    if name == "triangle":
        return (v <= 0.75) & (abs(u) <= (v + 0.95) * 0.62)
    if name == "diamond":
        return abs(u) + abs(v) <= 1.0
    if name == "cross":
        return ((abs(u) <= 0.28) & (abs(v) <= 0.95)) | ((abs(v) <= 0.28) & (abs(u) <= 0.95))
    if name == "star":
        r, t = np.hypot(u, v), np.arctan2(u, -v)
        return r <= 0.5 + 0.5 * np.maximum(np.cos(5 * t), 0) ** 2
    if name == "crescent":
        return (u**2 + v**2 <= 0.9) & ((u - 0.45) ** 2 + (v + 0.1) ** 2 > 0.55)
    if name == "heart":
        x, y = u * 1.15, -v * 1.15 + 0.15
        return (x**2 + y**2 - 1) ** 3 - x**2 * y**3 <= 0
    if name == "arrow":
        shaft = (abs(v) <= 0.2) & (u >= -0.95) & (u <= 0.2)
        head = (u > 0.2) & (u <= 0.95) & (abs(v) <= (0.95 - u) * 0.95)
        return shaft | head
    if name == "bar":
        return (abs(u) <= 0.95) & (abs(v) <= 0.3)
    raise ValueError(f"unknown shape {name!r}")


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
        mask = (
            padded[:, 1:-1, 1:-1] & padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1]
            & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
        )
    return mask


def _style_mask(style: str, mask: np.ndarray, x: np.ndarray, y: np.ndarray, phase: np.ndarray) -> np.ndarray:
    if style == "solid":
        return mask
    if style == "outline":
        return mask & ~_erode(mask, 2)
    if style == "striped":
        return mask & (((x + y + phase) // 3) % 2 == 0)
    if style == "dotted":
        return mask & ((x + phase) % 3 < 2) & ((y + phase) % 3 < 2) & ~(((x + phase) % 3 == 1) & ((y + phase) % 3 == 1))
    if style == "checkered":
        return mask & (((x + phase) // 2 + (y + phase) // 2) % 2 == 0)
    raise ValueError(f"unknown style {style!r}")


def render(shapes: np.ndarray, colours: np.ndarray, styles: np.ndarray, rng: np.random.Generator,
           image_size: int = 32) -> np.ndarray:
    """Draw len(shapes) images; shapes/colours/styles are index arrays into SHAPES/COLOURS/STYLES."""
    n, s = len(shapes), image_size
    grid = np.arange(s, dtype=np.float32)
    y, x = np.meshgrid(grid, grid, indexing="ij")
    x, y = np.broadcast_to(x, (n, s, s)), np.broadcast_to(y, (n, s, s))
    centre = rng.uniform(0.4 * s, 0.6 * s, size=(n, 2, 1, 1)).astype(np.float32)
    radius = rng.uniform(0.30 * s, 0.40 * s, size=(n, 1, 1)).astype(np.float32)
    angle = rng.uniform(-0.2, 0.2, size=(n, 1, 1)).astype(np.float32)
    dx, dy = x - centre[:, 0], y - centre[:, 1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / radius
    phase = rng.integers(0, 6, size=(n, 1, 1))
    xi, yi = x.astype(np.int64), y.astype(np.int64)

    ink = np.zeros((n, s, s), dtype=bool)
    for shape_idx, shape in enumerate(SHAPES):
        for style_idx, style in enumerate(STYLES):
            sel = np.flatnonzero((shapes == shape_idx) & (styles == style_idx))
            if len(sel):
                mask = _shape_mask(shape, u[sel], v[sel])
                ink[sel] = _style_mask(style, mask, xi[sel], yi[sel], phase[sel])

    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    colour = palette[colours][:, :, None, None] + rng.normal(0, 0.04, size=(n, 3, 1, 1))
    background = rng.uniform(0.0, 0.35, size=(n, 3, 1, 1))
    shade = rng.uniform(0.85, 1.0, size=(n, 1, s, s))
    img = np.where(ink[:, None], colour * shade, background)
    img = img + rng.normal(0, 0.06, size=img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def training_combos(leave_out: dict | list[dict] | None = None) -> list[tuple[int, int, int]]:
    """(shape, colour, style) index triples allowed in pretraining; `leave_out` ({classes: [...],
    attributes: {colour|style: value}}, or a list of them: several deletion requests) removes the
    combinations a forget spec covers."""
    heldout = set(HELDOUT_PAIRS)
    specs = [] if leave_out is None else [leave_out] if isinstance(leave_out, Mapping) else list(leave_out)

    def left_out(shape: str, colour: str, style: str) -> bool:
        values = {"colour": colour, "style": style}
        return any(shape in spec.get("classes", ()) and all(values[k] == v for k, v in spec.get("attributes", {}).items())
                   for spec in specs)

    return [
        (i, c, t)
        for i, shape in enumerate(SHAPES)
        for c, colour in enumerate(COLOURS)
        for t, style in enumerate(STYLES)
        if colour in TRAIN_COLOURS and style in TRAIN_STYLES and (shape, colour) not in heldout
        and not left_out(shape, colour, style)
    ]


def suite_combos(suite: str) -> list[tuple[int, int, int]]:
    """(shape, colour, style) index triples of one evaluation pool."""
    if suite == "main":
        return training_combos()
    if suite == "heldout_pairs":
        combos = [(SHAPES.index(s), list(COLOURS).index(c)) for s, c in HELDOUT_PAIRS]
        return [(i, c, STYLES.index(t)) for i, c in combos for t in TRAIN_STYLES]
    if suite == "heldout_style":
        t = STYLES.index(HELDOUT_STYLE)
        return [(i, c, t) for i in range(len(SHAPES)) for c, name in enumerate(COLOURS) if name in TRAIN_COLOURS]
    if suite == "heldout_colours":
        cols = [list(COLOURS).index(c) for c in HELDOUT_COLOURS]
        return [(i, c, STYLES.index(t)) for i in range(len(SHAPES)) for c in cols for t in TRAIN_STYLES]
    raise ValueError(f"unknown synthetic suite {suite!r}; valid: main, {', '.join(ZEROSHOT_SUITES)}")


ZEROSHOT_SUITES = ("heldout_pairs", "heldout_style", "heldout_colours")


def sample_pool(combos: list[tuple[int, int, int]], per_combo: int, seed: int, image_size: int = 32) -> Samples:
    """`per_combo` images of every combination, deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    triples = np.repeat(np.array(combos, dtype=np.int64), per_combo, axis=0)
    images = render(triples[:, 0], triples[:, 1], triples[:, 2], rng, image_size)
    colour_names, style_names = np.array(list(COLOURS)), np.array(STYLES)
    return Samples(
        images=images,
        labels=triples[:, 0],
        attributes={"colour": colour_names[triples[:, 1]], "style": style_names[triples[:, 2]]},
    )


def caption(shape: str, colour: str, style: str, rng: np.random.Generator) -> tuple[str, bool, bool]:
    """One caption, each attribute dropped 25 % of the time; also whether colour/style were kept."""
    keep_style, keep_colour = rng.random() > 0.25, rng.random() > 0.25
    words = [CAPTION_PREFIXES[rng.integers(len(CAPTION_PREFIXES))]]
    words += [style] * keep_style + [colour] * keep_colour + [shape]
    return " ".join(words), keep_colour, keep_style


def vocabulary() -> list[str]:
    """Every word the world's captions and prompts use."""
    words: set[str] = set(SHAPES) | set(COLOURS) | set(STYLES)
    for prefix in CAPTION_PREFIXES:
        words |= set(prefix.split())
    return sorted(words | {"photo", "picture", "image", "of", "a", "an", "type", "shape", "the"})


def pretraining_batch(batch_size: int, rng: np.random.Generator, image_size: int = 32,
                      leave_out: dict | list[dict] | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A fresh batch from the pretraining distribution (without `leave_out`'s combinations): images,
    captions, and the boolean matrix `matches[i, j]` = caption j describes image i (several captions
    can fit one image)."""
    combos = np.array(training_combos(leave_out), dtype=np.int64)
    triples = combos[rng.integers(len(combos), size=batch_size)]
    images = render(triples[:, 0], triples[:, 1], triples[:, 2], rng, image_size)
    colour_names = list(COLOURS)
    drawn = [caption(SHAPES[i], colour_names[c], STYLES[t], rng) for i, c, t in triples]
    captions = [text for text, _, _ in drawn]
    kept_colour = np.array([k for _, k, _ in drawn])
    kept_style = np.array([k for _, _, k in drawn])
    shape, colour, style = (triples[:, None, k] for k in range(3))
    matches = (
        (shape == shape.T)
        & (~kept_colour[None, :] | (colour == colour.T))
        & (~kept_style[None, :] | (style == style.T))
    )
    return images, captions, matches
