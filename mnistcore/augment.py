"""Distortions of MNIST digits: how people who are not MNIST's writers draw them.

MNIST's digits were written by census staff and students and cropped and centred one way. People
at the canvas write slanted, rotated, off-centre, large or small, with thin pens and fat markers.
Training on distorted copies teaches a network those differences. Here:

- `Distortions`, the ranges of each distortion (`ROBUST`, the default for training);
- `make_augment(distortions)`, a training-time distortion for `fit(..., augment=)` (see
  mnistcore.nets.base.Augment): each mini-batch is distorted afresh, on the fly, in float32;
- `warp`, `thicker`, `thinner`, `elastic_field`: the same steps as plain functions, with fixed
  amounts, for making distorted test sets (bench/handwriting.py).

Every distorted image gets its own random affine (rotation, shear, scale, shift) and elastic
displacement, merged into one sampling grid, and the whole batch is done at once: one bilinear
gather from the stacked (B, 28, 28) volume, no loop over images. The elastic field is drawn as
random displacements on a coarse grid, spread smoothly over 28 x 28 by two small matrix products
(a Gaussian-smoothed random field, for far less than smoothing a full-size one). Stroke width
changes by a 2 x 2 or 3 x 3 grey dilation (thicker) or a 2 x 2 erosion (thinner).

ROBUST distorts 30% of the images: that share made an MLP about as robust as 50% did, for less
training time (bench/handwriting.py measures both; figures in docs/measurements.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDE = 28                 # MNIST's images are SIDE x SIDE
COARSE = 5                # the elastic field's random displacements: a COARSE x COARSE grid per image


@dataclass(frozen=True)
class Distortions:
    """Ranges of the random distortions, each drawn anew for every image (uniformly in its range).

    Rotation, shear and scale turn about the image's middle. The defaults keep a digit mostly
    inside the 28 x 28 frame, and legible: a 7 turned by 15 degrees and sheared is still a 7.
    """

    rotate: float = 15.0                      # degrees, either way
    shear: float = 0.3                        # horizontal shear factor (x moves by shear * y), either way
    scale: tuple[float, float] = (0.8, 1.15)  # size factor, smallest to largest
    shift: float = 2.0                        # pixels, each way
    thicker: float = 0.2                      # share of images whose strokes are made thicker ...
    thinner: float = 0.15                     # ... and thinner (never both)
    elastic: float = 1.5                      # typical displacement of the elastic field, px (0: none)
    fraction: float = 0.3                     # share of each batch distorted at all, the rest left as they
                                              # are: the cost of an epoch grows with it (see the top)

    def __post_init__(self):
        checks = [("rotate", self.rotate, 0, 90), ("shear", self.shear, 0, 1), ("shift", self.shift, 0, 8),
                  ("thicker", self.thicker, 0, 1), ("thinner", self.thinner, 0, 1),
                  ("elastic", self.elastic, 0, 5), ("fraction", self.fraction, 0, 1)]
        for name, value, low, high in checks:
            if not low <= value <= high:
                raise ValueError(f"Distortions.{name} must be {low} to {high}, got {value!r}")
        low, high = self.scale
        if not 0.3 <= low <= high <= 2.0:
            raise ValueError(f"Distortions.scale must be (low, high) with 0.3 <= low <= high <= 2, got {self.scale!r}")
        if self.thicker + self.thinner > 1:
            raise ValueError(f"Distortions.thicker + thinner must be at most 1, got {self.thicker} + {self.thinner}")


ROBUST = Distortions()


def make_augment(distortions: Distortions = ROBUST):
    """A training-time distortion: `augment(batch, rng)` for `fit(..., augment=)`.

    `batch`: (B, 784) float32 in [0, 1]; `rng`: the model's np.random.Generator (so a seeded
    model trains the same way twice). Returns a new (B, 784) float32 array in [0, 1]; the batch
    itself is not changed.
    """
    d = distortions

    def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        images = np.asarray(batch, np.float32).reshape(-1, SIDE, SIDE)
        chosen = np.flatnonzero(rng.random(len(images)) < d.fraction)
        n = len(chosen)
        if n == 0:
            return np.array(batch, np.float32)
        angle = rng.uniform(-d.rotate, d.rotate, n)
        shear = rng.uniform(-d.shear, d.shear, n)
        scale = rng.uniform(*d.scale, n)
        shift = rng.uniform(-d.shift, d.shift, (n, 2))
        field = elastic_field(rng, n, d.elastic) if d.elastic > 0 else None
        warped = warp(images if n == len(images) else images[chosen], angle, scale=scale, shear=shear,
                      shift=shift, field=field)
        kind = rng.random(n)
        slim = np.flatnonzero((kind >= d.thicker) & (kind < d.thicker + d.thinner))
        fat = kind < d.thicker
        wide = fat & (rng.random(n) < 0.5)            # half of them by 3 x 3, half by 2 x 2
        for which, change in ((np.flatnonzero(wide), lambda im: thicker(im, 3)),
                              (np.flatnonzero(fat & ~wide), lambda im: thicker(im, 2)),
                              (slim, thinner)):
            if len(which):
                warped[which] = change(warped[which])
        if n == len(images):
            return warped.reshape(batch.shape)
        out = images.copy()
        out[chosen] = warped
        return out.reshape(batch.shape)

    return augment


def warp(images: np.ndarray, angle, scale=1.0, shear=0.0, shift=(0.0, 0.0), field=None) -> np.ndarray:
    """Images (B, H, W) float32 turned by `angle` degrees (counter-clockwise), sheared, scaled
    about their middle, shifted by `shift` (dy, dx) px, and moved by the displacement `field`
    ((B, 2, H, W) px, (dy, dx), or None). Each of angle, scale, shear is a number or one per
    image; shift is (2,) or (B, 2). Bilinear; what comes from outside the image is background.

    Returns (B, H, W) float32 in the input's range.
    """
    images = np.asarray(images, np.float32)
    b, h, w = images.shape
    angle, scale, shear = (np.broadcast_to(np.asarray(v, np.float64), (b,)) for v in (angle, scale, shear))
    shift = np.broadcast_to(np.asarray(shift, np.float64), (b, 2))
    # Each output pixel p reads the input at the inverse of the forward map
    # p = rotate(shear(scale(q))) + shift, i.e. q = M (p - shift) with one 2 x 2 matrix M per image.
    # Being linear, q's coordinates are an outer sum of a term in the row and one in the column:
    # the full-size arrays cost one addition each.
    theta = np.radians(angle)
    cos, sin, inv = np.cos(theta), np.sin(theta), 1 / scale
    # Unrotate (counter-clockwise on screen, where y points down), unshear, unscale:
    m_yy, m_yx = cos * inv, sin * inv
    m_xy, m_xx = (-sin - shear * cos) * inv, (cos - shear * sin) * inv
    cy, cx = (h - 1) / 2, (w - 1) / 2
    y = np.arange(h) - cy
    x = np.arange(w) - cx
    dy, dx = shift[:, 0], shift[:, 1]
    # In the padded image's pixels (a frame of one pixel): + 1 on each coordinate.
    row_y = (m_yy[:, None] * (y[None, :] - dy[:, None]) - m_yx[:, None] * dx[:, None] + cy + 1).astype(np.float32)
    col_y = (m_yx[:, None] * x[None, :]).astype(np.float32)
    row_x = (m_xy[:, None] * (y[None, :] - dy[:, None]) - m_xx[:, None] * dx[:, None] + cx + 1).astype(np.float32)
    col_x = (m_xx[:, None] * x[None, :]).astype(np.float32)
    src_y = row_y[:, :, None] + col_y[:, None, :]                                    # (B, H, W)
    src_x = row_x[:, :, None] + col_x[:, None, :]
    if field is not None:
        src_y -= field[:, 0]
        src_x -= field[:, 1]
    return _bilinear(images, src_y, src_x)


def _bilinear(images: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """images (B, H, W) read at (y, x) ((B, H, W) float32 each, in the pixels of the image with a
    one-pixel frame of background, so 1 is the first row), bilinearly; background outside.

    Overwrites y and x. This runs for every mini-batch, so it is written for speed: float32 and
    in place throughout, and one gather for all four neighbours of a read.
    """
    b, h, w = images.shape
    # quads[b, i, j] = the framed image's 2 x 2 neighbourhood whose top-left is (i, j), its four
    # values side by side: np.take of whole rows fetches them at once (far faster than four
    # fancy indexings). The frame is background: reads from outside are clipped onto it.
    quads = np.zeros((b, h + 1, w + 1, 4), np.float32)
    quads[:, 1:, 1:, 0] = images     # top left
    quads[:, 1:, :-1, 1] = images    # top right
    quads[:, :-1, 1:, 2] = images    # bottom left
    quads[:, :-1, :-1, 3] = images   # bottom right
    np.clip(y, 0, h + 0.999, out=y)
    np.clip(x, 0, w + 0.999, out=x)
    y0, x0 = np.floor(y), np.floor(x)
    y -= y0                                            # now the fraction of a pixel down ...
    x -= x0                                            # ... and across
    y0 *= w + 1                                        # the quad's index, exact in float32 (< 2**24)
    y0 += x0
    y0 += np.arange(0, b * (h + 1) * (w + 1), (h + 1) * (w + 1), dtype=np.float32)[:, None, None]
    near = np.take(quads.reshape(-1, 4), y0.astype(np.intp), axis=0)                 # (B, H, W, 4)
    top = near[..., 1] - near[..., 0]
    top *= x
    top += near[..., 0]
    out = near[..., 3] - near[..., 2]
    out *= x
    out += near[..., 2]
    out -= top
    out *= y
    out += top
    return np.clip(out, 0.0, 1.0, out=out)


def elastic_field(rng: np.random.Generator, n: int, size: float, side: int = SIDE) -> np.ndarray:
    """n smooth random displacement fields (n, 2, side, side), float32, px: (dy, dx).

    Random displacements on a COARSE x COARSE grid, spread smoothly over the image by Gaussian
    weights (the grid's spacing wide): a Gaussian-smoothed random field, as in Simard et al. (2003),
    for the cost of two matrix products. `size` is the field's typical (RMS) displacement.
    """
    knots = rng.standard_normal((n * 2 * COARSE, COARSE), dtype=np.float32)
    spread = _SPREAD if side == SIDE else _spread(side)
    across = knots @ spread.T                                          # (n * 2 * COARSE, side): along x
    down = spread @ across.reshape(n * 2, COARSE, side).transpose(1, 0, 2).reshape(COARSE, -1)  # along y
    field = down.reshape(side, n * 2, side).transpose(1, 0, 2).reshape(n, 2, side, side)
    return field * np.float32(size)


def _spread(side: int) -> np.ndarray:
    """(side, COARSE) weights that spread the coarse grid's values over `side` pixels, smoothly.

    Each column a Gaussian of the grid's spacing around its knot; scaled so that a field of
    unit-variance knots has a displacement of about 1 px (RMS) in the image's middle.
    """
    knots = np.linspace(0, side - 1, COARSE)
    spacing = knots[1] - knots[0]
    weights = np.exp(-0.5 * ((np.arange(side)[:, None] - knots[None, :]) / spacing) ** 2)
    middle = weights[side // 2]
    return (weights / np.sqrt(middle @ middle)).astype(np.float32)


_SPREAD = _spread(SIDE)


def thicker(images: np.ndarray, size: int = 2) -> np.ndarray:
    """Strokes made thicker by `size` - 1 px: the brightest value in each size x size square
    (a grey dilation), on (B, H, W) float32 images. size 2 or 3."""
    return _filter(images, size, np.maximum)


def thinner(images: np.ndarray, size: int = 2) -> np.ndarray:
    """Strokes made thinner by `size` - 1 px: the faintest value in each size x size square
    (a grey erosion), on (B, H, W) float32 images. An image that would lose nearly all its ink
    (strokes already this thin) is left as it was."""
    eroded = _filter(images, size, np.minimum)
    kept = eroded.sum(axis=(1, 2)) >= 0.3 * images.sum(axis=(1, 2))
    return np.where(kept[:, None, None], eroded, images)


def _filter(images: np.ndarray, size: int, pick) -> np.ndarray:
    """A size x size min or max filter (pick: np.minimum or np.maximum) on (B, H, W) images.

    Separable: down the columns, then along the rows, each a pick between shifted views. A 2 x 2
    square reaches one pixel down and right, a 3 x 3 one pixel each way; outside is background.
    """
    if size not in (2, 3):
        raise ValueError(f"size must be 2 or 3, got {size!r}")
    out = np.array(images, np.float32)
    for axis in (1, 2):
        source = out.copy()
        first, last, rest, before = ([slice(None)] * 3 for _ in range(4))
        first[axis], last[axis] = slice(0, 1), slice(-1, None)
        rest[axis], before[axis] = slice(1, None), slice(None, -1)
        pick(out[tuple(before)], source[tuple(rest)], out=out[tuple(before)])  # each pixel and the next
        if size == 3:
            pick(out[tuple(rest)], source[tuple(before)], out=out[tuple(rest)])  # ... and the one before
        if pick is np.minimum:  # the background beyond the edge wins an erosion there
            out[tuple(last)] = 0.0
            if size == 3:
                out[tuple(first)] = 0.0
    return out
