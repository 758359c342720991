"""Turn a drawing into an MNIST-style 28x28 image, the way MNIST itself was made.

MNIST's digits were cropped to their ink, scaled (anti-aliased, aspect kept) so the longer side
is 20 px, and placed in a 28x28 field with their centre of mass at the centre. A canvas drawing
goes through the same steps here, plus one MNIST never needed: the stroke is thickened or thinned
to MNIST's typical width, so a 1-px pen and a marker both look like a pen on paper.

The ink as drawn is measured too (`Shape`: its size against the canvas and the pen, how straight,
in how many pieces, with how many loops), so the page can tell a digit from a dot, a line, a blob
or a two-digit number (mnistcore.explain.answer.judge_drawing) rather than read a digit into
anything.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

MAX_DRAWING_SIDE = 4096  # larger inputs are refused: no canvas in a browser is this big
INK = 0.2                # a pixel with at least this much ink counts when finding the digit
BOX = 20                 # MNIST's digit box: the longer side of the digit, in pixels
WORK = 4 * BOX           # stroke width is adjusted at this resolution (fast, and fine enough)
STROKE_WIDTH = 1.85      # MNIST's median stroke width (stroke_width at 0.5), in 20-px-box pixels
MIN_EXTENT = 0.05        # digit_steps: a digit spans at least this fraction of the canvas' longer side
SPECK_OF_INK = 0.02      # a piece of ink under this fraction of all the ink is a speck, not a part
COLUMN_INK = 0.15        # a group of pieces beside another holds this much of the ink to count as a column
MEASURE = 128            # the ink is measured at most this many px on its longer side


@dataclass(frozen=True)
class Shape:
    """The ink as drawn, measured in the drawing's own pixels: what tells a digit from a dot, a
    line, a blob or two digits side by side (mnistcore.explain.answer.judge_drawing decides which).

    A pixel with at least half the full ink counts. "Pen" is the width of the strokes: the site's
    brush is 22 px on a 280 px canvas, whatever size the digit is drawn.
    """

    canvas: int          # the drawing's longer side, px
    height: int          # the ink's bounding box, px
    width: int
    pen: float           # typical stroke width, px (twice the median distance from a stroke's centre line to its edge)
    thickness: float     # the thickest part, px (a dot's or a blob's diameter; a digit's crossing)
    fill: float          # fraction of the bounding box that is ink, 0-1
    along: float         # the ink's length along its main direction, px ...
    across: float        # ... and its width across it (a straight stroke: about `pen`)
    tilt: float          # the main direction, in degrees from upright: 0 = |, 90 = -
    parts: int           # separate pieces of ink, specks not counted
    columns: int         # groups of pieces side by side that could each be a digit (12: two; see _pieces)
    holes: int           # enclosed gaps in the ink (a 0 has one, an 8 two)

    @property
    def extent(self) -> float:
        """The ink's longer side as a fraction of the canvas' longer side, 0-1."""
        return max(self.height, self.width) / self.canvas

    @property
    def pens(self) -> float:
        """The ink's longer side in pen widths: a tap of the pen is 1, a digit drawn large about 10."""
        return max(self.height, self.width) / max(self.pen, 1.0)

    @property
    def aspect(self) -> float:
        """Width over height: MNIST's digits are 0.3-1.4 (99% of them), a "-" far more."""
        return self.width / self.height


@dataclass(frozen=True)
class Steps:
    """What the network sees, step by step (all float32 in [0, 1], ink = 1), and the ink's shape."""

    ink: np.ndarray      # (H, W) the drawing as ink intensity
    cropped: np.ndarray  # (h, w) the ink's bounding box
    scaled: np.ndarray   # (<=20, <=20) longer side 20 px, stroke width normalised
    centred: np.ndarray  # (28, 28) centre of mass at the centre: the network's input
    shape: Shape         # measurements of the ink as drawn


def canvas_to_mnist(image_data: np.ndarray) -> np.ndarray | None:
    """A drawing (RGBA/RGB/grey array) as a (28, 28) float32 MNIST image, or None if no digit."""
    steps = digit_steps(image_data)
    return None if steps is None else steps.centred


def digit_steps(image_data: np.ndarray) -> Steps | None:
    """Every preprocessing step for ink that could be a digit; None for a blank canvas, a speck or a blob.

    For scripts and photos (mnistcore.photo). The Draw page uses ink_steps, which refuses only a
    blank canvas, and lets mnistcore.explain.answer.judge_drawing say what a dot or a blob is.
    """
    steps = ink_steps(image_data)
    if steps is None:
        return None
    if max(steps.cropped.shape) < max(3, MIN_EXTENT * max(steps.ink.shape)):
        return None  # a speck: too small on the canvas to be a digit
    if _is_blob(resize_to_fit(steps.cropped, WORK)):
        return None  # a stray dot or blob: about as thick as it is long
    return steps


def ink_steps(image_data: np.ndarray) -> Steps | None:
    """Every preprocessing step for whatever ink was drawn, and its shape; None only for a blank canvas.

    `image_data`: (H, W, 4) RGBA as streamlit-drawable-canvas returns it (opaque or
    transparent background), (H, W, 3) RGB, or (H, W) grey; uint8 0-255 or float 0-1.
    Either polarity works: the background is whatever colour the border has.
    A dot, a line or a scribble comes through like a digit: whether it is one is for
    mnistcore.explain.answer.judge_drawing to say, from `steps.shape` and the model's answer.
    """
    ink = ink_image(image_data)
    mask = ink >= INK
    if not mask.any():
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    cropped = ink[top:bottom, left:right]
    scaled = _normalise_stroke(resize_to_fit(cropped, WORK))
    return Steps(ink=ink, cropped=cropped, scaled=scaled, centred=_centre(scaled),
                 shape=measure(cropped, max(ink.shape)))


def measure(cropped: np.ndarray, canvas: int) -> Shape:
    """The Shape of the ink in `cropped` ((h, w) ink in [0, 1], cut from a canvas `canvas` px wide)."""
    # A phone sends its canvas at 2-4 times the size: measure at most MEASURE px (a few ms), in
    # the drawing's own pixels all the same.
    scale = max(1.0, max(cropped.shape) / MEASURE)
    if scale > 1.0:
        cropped = resize_to_fit(cropped, MEASURE)
    shape = _measured(cropped)
    if scale > 1.0:  # lengths back in the drawing's pixels
        shape.update({name: shape[name] * scale for name in ("pen", "thickness", "along", "across")},
                     height=int(round(shape["height"] * scale)), width=int(round(shape["width"] * scale)))
    return Shape(canvas=int(canvas), **shape)


def _measured(cropped: np.ndarray) -> dict:
    """measure's work, in the pixels of `cropped`: every field of Shape but `canvas`."""
    mask = cropped >= 0.5
    if not mask.any():
        mask = cropped >= INK  # a faint drawing: whatever counts as ink at all
    mask = np.pad(mask, 1)  # a frame of background, so every stroke has an edge
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    # Distance from each ink pixel to the background; along a stroke's centre line (where the
    # distance is largest across the stroke) it is half the pen's width, plus half a pixel.
    distance = ndimage.distance_transform_edt(mask)
    centre_line = mask & (distance >= ndimage.maximum_filter(distance, size=3))
    pen = max(2.0 * float(np.median(distance[centre_line])) - 1.0, 1.0)
    thickness = max(2.0 * float(distance.max()) - 1.0, 1.0)
    along, across, tilt = _main_direction(mask)
    parts, columns = _pieces(mask, height)
    return dict(height=height, width=width, pen=pen, thickness=thickness, fill=float(mask.sum()) / (height * width),
                along=along, across=across, tilt=tilt, parts=parts, columns=columns, holes=_holes(mask, pen))


def _main_direction(mask: np.ndarray) -> tuple[float, float, float]:
    """(length along, width across, degrees from upright) of the ink's main direction.

    The main direction is that in which the ink's pixels spread most (their covariance's first
    eigenvector); lengths are the spread of the pixels along and across it, 1st to 99th percentile.
    """
    points = np.argwhere(mask).astype(np.float64)  # (n, 2) as (row, column)
    if len(points) > 20000:  # a big blob: a regular sample measures it as well
        points = points[:: len(points) // 20000 + 1]
    points -= points.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(points.T) if len(points) > 1 else np.eye(2))
    main, other = vectors[:, 1], vectors[:, 0]  # eigh sorts eigenvalues in ascending order
    along = np.percentile(points @ main, [1, 99])
    across = np.percentile(points @ other, [1, 99])
    tilt = float(np.degrees(np.arccos(min(1.0, abs(main[0])))))  # main[0]: its vertical component
    return float(along[1] - along[0] + 1), float(across[1] - across[0] + 1), tilt


def _pieces(mask: np.ndarray, height: int) -> tuple[int, int]:
    """(pieces of ink, groups of pieces side by side that could each be a digit).

    Pieces whose columns overlap belong to one group, as the bar and the body of a 5 do; two
    digits written side by side make two groups. A group counts when it is at least half as tall
    as the drawing and holds at least COLUMN_INK of its ink (a stray mark beside a digit does not).
    Specks (under SPECK_OF_INK of the ink) are left out.
    """
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))  # diagonal neighbours touch
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    total = float(areas.sum())
    kept = [(box, area) for box, area in zip(ndimage.find_objects(labels), areas) if area >= SPECK_OF_INK * total]
    groups: list[list[float]] = []  # [left, right, top, bottom, ink], left to right
    for (rows, cols), area in sorted(kept, key=lambda piece: piece[0][1].start):
        if groups and cols.start < groups[-1][1]:  # overlaps the group on its left
            group = groups[-1]
            group[1], group[2], group[3] = max(group[1], cols.stop), min(group[2], rows.start), max(group[3], rows.stop)
            group[4] += area
        else:
            groups.append([cols.start, cols.stop, rows.start, rows.stop, area])
    columns = sum(1 for _, _, top, bottom, ink in groups if bottom - top >= 0.5 * height and ink >= COLUMN_INK * total)
    return len(kept), columns


def _holes(mask: np.ndarray, pen: float) -> int:
    """Enclosed gaps in the ink, not counting pinholes (smaller than a sixth of the pen, squared)."""
    labels, count = ndimage.label(~mask)  # 4-connected background, the partner of 8-connected ink
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    outside = labels[0, 0]  # the frame added around the ink: the background outside
    return int(sum(1 for label in range(1, count + 1) if label != outside and areas[label] >= max(4.0, (pen / 6) ** 2)))


def ink_image(image_data: np.ndarray) -> np.ndarray:
    """The drawing as (H, W) float32 ink in [0, 1]: 0 = background, 1 = full ink."""
    img, unit = _validated(image_data)
    if img.ndim == 3 and img.shape[2] == 4:
        alpha = img[..., 3]
        if float(np.median(_border(alpha))) * unit < 0.5:
            # Transparent background: whatever was painted is ink, whatever its colour.
            return _stretch(alpha * np.float32(unit))
        img = img[..., :3]
    if img.ndim == 2:
        grey = img * np.float32(unit)
    else:  # channel by channel, in float32 from the start: making the whole RGBA array float is slower
        r, g, b = (np.float32(weight * unit) for weight in (0.299, 0.587, 0.114))
        grey = img[..., 0] * r + img[..., 1] * g + img[..., 2] * b
    background = float(np.median(_border(grey)))
    # Ink is the distance from the background colour, so white-on-black and black-on-white
    # drawings both come out as MNIST's light digit on a dark field.
    return _stretch(np.abs(grey - background) / max(background, 1.0 - background, 1e-6))


def _validated(image_data: np.ndarray) -> tuple[np.ndarray, float]:
    """The drawing checked, and the value of one step of it on the 0-1 scale: uint8 comes back as
    it is (1/255 a step), any other number type as float32 (1, or 1/255 when it runs to 255)."""
    img = np.asarray(image_data)
    if img.dtype == object or not (np.issubdtype(img.dtype, np.number) or img.dtype == bool):
        raise ValueError(f"drawing must be a numeric array, got dtype {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"drawing must be (H, W), (H, W, 3) or (H, W, 4), got shape {img.shape}")
    if min(img.shape[:2]) < 8 or max(img.shape[:2]) > MAX_DRAWING_SIDE:
        raise ValueError(f"drawing is {img.shape[0]}x{img.shape[1]} px; each side must be 8 to {MAX_DRAWING_SIDE} px")
    if img.dtype == np.uint8:
        return img, 1 / 255
    img = img.astype(np.float32)
    if not np.isfinite(img).all():
        raise ValueError("drawing contains NaN or infinite values")
    low, high = float(img.min()), float(img.max())
    if low < 0 or high > 255:
        raise ValueError(f"drawing values must be 0-1 or 0-255, got {low:g} to {high:g}")
    return img, (1 / 255 if high > 1.0 else 1.0)


def _border(img: np.ndarray) -> np.ndarray:
    return np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])


def _stretch(ink: np.ndarray) -> np.ndarray:
    """Scale ink so its strongest pixel is 1, as in MNIST; faint noise stays faint (all zero)."""
    peak = float(ink.max())
    if peak < INK:  # nothing stands out from the background
        return np.zeros(ink.shape, np.float32)
    return np.clip(ink / peak, 0.0, 1.0).astype(np.float32)


def stroke_width(mask: np.ndarray) -> float:
    """Estimated stroke width in pixels of a binary drawing: 2 x area / boundary length.

    A stroke of width w and length L has area w*L and a boundary of about 2*L, so this is w
    for long strokes and a little less for short ones.
    """
    area = float(mask.sum())
    if area == 0:
        return 0.0
    padded = np.pad(mask, 1)
    edges = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    return 2.0 * area / edges


def _is_blob(work: np.ndarray) -> bool:
    """True for a dot or blob: its longer side is under 1.6 times its thickest part.

    Thickness is twice the largest distance from an ink pixel to the background: a disk's is its
    diameter (ratio 1), while any digit, even one drawn small with a fat marker, is several
    strokes long (a short thick "1" still has a ratio above 3).
    """
    thickness = 2.0 * float(ndimage.distance_transform_edt(np.pad(work >= 0.5, 1)).max())
    return max(work.shape) < 1.6 * thickness


def _normalise_stroke(work: np.ndarray) -> np.ndarray:
    """Scale the digit (longer side WORK px) to 20 px, with an MNIST-like stroke width.

    Thickening or thinning changes the digit's box and so its final scale, and the width
    estimate is rough for short strokes: so measure and adjust again, a few rounds at most.
    """
    factor = WORK / BOX
    for _ in range(3):
        width = stroke_width(work >= 0.5) * BOX / max(work.shape)  # in final 20-px-box pixels
        if 0.75 * STROKE_WIDTH <= width <= 1.35 * STROKE_WIDTH:
            break
        radius = max(1, int(round(abs(width - STROKE_WIDTH) * factor / 2)))
        if width < STROKE_WIDTH:
            work = ndimage.grey_dilation(work, footprint=_disk(radius), mode="constant")
        else:
            eroded = ndimage.grey_erosion(work, footprint=_disk(radius), mode="constant", cval=0.0)
            if not (eroded >= 0.5).any():
                break  # never erase the digit
            work = eroded
        work = _crop_to_ink(work)
    return np.clip(resize_to_fit(work, BOX), 0.0, 1.0).astype(np.float32)


def _crop_to_ink(img: np.ndarray) -> np.ndarray:
    mask = img >= INK
    if not mask.any():
        return img
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _disk(radius: int) -> np.ndarray:
    r = max(radius, 1)
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= r * r + r  # "+ r" rounds the disk a little fuller, closer to a pen tip


def _centre(scaled: np.ndarray) -> np.ndarray:
    """Place the digit in 28x28 with its centre of mass where MNIST has it: pixel (14, 14)."""
    out = np.zeros((28, 28), np.float32)
    h, w = scaled.shape
    cy, cx = ndimage.center_of_mass(scaled)
    top = int(np.clip(round(14.0 - cy), 0, 28 - h))
    left = int(np.clip(round(14.0 - cx), 0, 28 - w))
    out[top : top + h, left : left + w] = scaled
    return out


def resize_to_fit(img: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is `side` px, keeping the aspect ratio (at least 1 px each way)."""
    h, w = img.shape
    scale = side / max(h, w)
    return resize(img, max(1, round(h * scale)), max(1, round(w * scale)))


def resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Anti-aliased resize of a 2-D float image: area averaging down, linear interpolation up."""
    return (_resample_matrix(img.shape[0], out_h) @ img @ _resample_matrix(img.shape[1], out_w).T).astype(np.float32)


@functools.lru_cache(maxsize=64)  # a drawing needs eight; the same sizes come back often (at most ~9 MB)
def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights; each row sums to 1. Read-only: one array serves every caller."""
    if n_out <= n_in:
        # Output pixel j covers input interval [j, j+1) * n_in/n_out; weight = overlap length.
        edges = np.arange(n_out + 1) * (n_in / n_out)
        pixels = np.arange(n_in)
        weights = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
        weights = np.clip(weights, 0.0, None)
    else:
        # Linear interpolation between input pixel centres (aligned at pixel centres).
        centres = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        weights = np.clip(1.0 - np.abs(centres[:, None] - np.arange(n_in)), 0.0, None)
    out = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    out.flags.writeable = False
    return out
