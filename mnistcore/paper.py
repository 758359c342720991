"""The sheet of paper in a photo: where it is, how it is lit, and whether the photo shows one at all.

A digit is written on paper, so before any ink is looked for (mnistcore.photo) the photo is asked
what it shows:
- the sheet: the largest bright region with a sharp edge (a table, a pen or a mug beside it are
  darker), or None when the photo is all paper or shows none;
- the paper's own light, lighting and shadows included, under each pixel (`paper_light`);
- whether it is paper at all (`refusal`): paper is plain, its brightness smooth but for what is
  written on it, where a face, a room or a cat is textured all over; and a page of print is
  paper covered in many small marks, where a digit is a few strokes.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

PAPER_SIDE = 256               # the paper's lighting is estimated at this size (the longer side)...
PAPER_CLOSING = 1 / 10         # ...closing over dark strokes narrower than this fraction of it
SHEET_SIDE = 160               # the sheet of paper is looked for at this size (the longer side)...
SHEET_CONTRAST = 0.15          # ...as the largest region this much brighter than the rest of the photo
SHEET_SHARE = (0.15, 0.96)     # a sheet covers this much of the photo; more is all paper, less no sheet
SHEET_EDGE = 0.3               # a sheet's edge is sharp (the brightness step mostly within a pixel), a shadow's soft
TEXT_PIECES = 40               # this many separate marks of writing on the paper: a page of text...
TEXT_INK = 0.4                 # ...each at least this much darker than its paper...
TEXT_PAPER = 0.5               # ...on paper at least this bright (of the photo's brightest): not the table
TEXT_PLAIN = 0.65              # ...and that much of it plain paper (a face's many marks are on no paper)
PLAIN_GRAIN = 0.02             # paper varies by less than this (of the photo's brightest) over a few pixels...
PLAIN_SHARE = 0.78             # ...over this share of the sheet at least (digits 85%+; a face 38%, a person 72%)


def sheet_of_paper(grey: np.ndarray) -> np.ndarray | None:
    """(H, W) bool: the sheet of paper in the photo, with all that is written on it; None when there
    is no sheet distinct from its surroundings (the photo is all paper, or shows no paper).

    The sheet is the largest bright region of the photo shrunk to SHEET_SIDE px (the table, a pen
    or a mug beside it are darker), its holes (the writing) filled, a little inside its edge. A
    region whose edge is soft is lit paper beside a shadow, not a sheet on a table: None then.
    """
    factor = max(1, int(np.ceil(max(grey.shape) / SHEET_SIDE)))
    raw = block_mean(grey, factor)
    small = ndimage.gaussian_filter(raw, 1.0)
    bright = small > otsu(small.ravel())
    if not bright.any() or bright.all() or small[bright].mean() - small[~bright].mean() < SHEET_CONTRAST:
        return None
    labels, count = ndimage.label(bright)
    largest = labels == 1 + int(np.argmax(np.bincount(labels.ravel(), minlength=count + 1)[1:]))
    edge = largest ^ ndimage.binary_erosion(largest, border_value=1)  # its edge inside the photo
    step = raw[largest].mean() - raw[~largest].mean()
    slope = np.hypot(ndimage.sobel(raw, 0), ndimage.sobel(raw, 1)) / 8
    if not edge.any() or np.median(slope[edge]) < SHEET_EDGE * step:
        return None
    sheet = ndimage.binary_fill_holes(ndimage.binary_closing(largest, iterations=2))
    if not SHEET_SHARE[0] <= sheet.mean() <= SHEET_SHARE[1]:
        return None
    sheet = ndimage.binary_erosion(sheet, iterations=1)
    grown = np.kron(sheet, np.ones((factor, factor), bool))
    return grown[: grey.shape[0], : grey.shape[1]]


def paper_light(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness under each pixel, as if nothing were written on it: (H, W) float32.

    `grey`: (H, W) float32 in [0, 1], dark ink on light paper. The photo, shrunk to PAPER_SIDE
    px, is closed (a maximum, then a minimum filter) over strokes narrower than PAPER_CLOSING of
    it, so lighting and shadows stay while the writing goes; blurred a little and grown back.
    """
    factor = max(1, int(np.ceil(max(grey.shape) / PAPER_SIDE)))
    small = block_mean(grey, factor)
    size = max(3, round(PAPER_CLOSING * max(small.shape)) | 1)
    paper = ndimage.grey_closing(small, size=(size, size), mode="nearest")
    paper = ndimage.gaussian_filter(paper, 1.0, mode="nearest")
    paper = Image.fromarray(paper.astype(np.float32), "F").resize(grey.shape[::-1], Image.Resampling.BILINEAR)
    return np.maximum(np.asarray(paper, np.float32), 1e-3)


def refusal(grey: np.ndarray, paper: np.ndarray, sheet: np.ndarray | None) -> str | None:
    """Why the photo cannot hold one digit on paper: "printed" (a page of print or writing),
    "no_paper" (a face, a room: no sheet of paper in it), or None when it may.

    `grey`: (H, W) float32 in [0, 1]; `paper`: its paper_light; `sheet`: sheet_of_paper(grey), the
    whole photo when None. Plain paper is smooth over most of the sheet (PLAIN_SHARE), whatever
    its lighting; print covers it in TEXT_PIECES marks or more, letters on plain paper.
    """
    region = np.ones(grey.shape, bool) if sheet is None else sheet
    darkness = np.clip(paper - grey, 0.0, None) / paper
    bright = region & (paper > TEXT_PAPER * np.percentile(paper[region], 95))
    if _marks(np.where(bright, darkness, 0.0)) >= TEXT_PIECES and np.mean(darkness[region] < 0.1) >= TEXT_PLAIN:
        return "printed"
    factor = max(1, int(np.ceil(max(grey.shape) / PAPER_SIDE)))
    # Blurred a little first: a camera's noise, or a palette's dithering, is not the texture of a face.
    small = ndimage.gaussian_filter(block_mean(grey, factor), 1.0)
    small = small / max(float(np.percentile(small, 99)), 0.05)  # as exposed for its brightest part
    inside = block_mean(region.astype(np.float32), factor) > 0.99
    mean = ndimage.uniform_filter(small, 5)
    spread = np.sqrt(np.clip(ndimage.uniform_filter(small * small, 5) - mean * mean, 0.0, None))
    if not inside.any() or np.mean(spread[inside] < PLAIN_GRAIN) < PLAIN_SHARE:
        return "no_paper"
    return None


def _marks(darkness: np.ndarray) -> int:
    """How many separate dark marks of some size there are (clear of the paper's grain): print's
    letters are many, a digit's strokes few."""
    ink = ndimage.median_filter(darkness[::2, ::2], size=3) > TEXT_INK
    labels, count = ndimage.label(ink)
    if count < TEXT_PIECES:
        return count
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return int(np.sum(sizes >= 6))


def block_mean(img: np.ndarray, factor: int) -> np.ndarray:
    """`img` shrunk by `factor` each way, each pixel the mean of its block (edges padded)."""
    if factor == 1:
        return img
    h, w = img.shape
    padded = np.pad(img, ((0, -h % factor), (0, -w % factor)), mode="edge")
    return padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor).mean(axis=(1, 3))


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of `values` in [0, 1]: the level that best splits them into two groups."""
    counts, edges = np.histogram(values, bins=128, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    below = np.cumsum(counts)
    above = below[-1] - below
    sum_below = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_below = sum_below / below
        mean_above = (sum_below[-1] - sum_below) / above
        between = below * above * (mean_below - mean_above) ** 2
    return float(edges[1:][np.nanargmax(np.where(np.isfinite(between), between, -1))])


