"""Drawing as a visitor draws on the Draw page's canvas: a 1-px path (the pen's centre line) widened
into a round stroke of the pen's width, on a 280 x 280 canvas. MNIST digits redrawn that way,
letters and signs, lines, dots, blobs, scribbles, two-digit numbers: what mnistcore.nondigits
builds its sets from and the tests and benchmarks draw with."""
import functools

import numpy as np
from scipy import ndimage

CANVAS = 280  # the Draw page's canvas, in pixels

def as_canvas(ink: np.ndarray, background="opaque") -> np.ndarray:
    """Ink (H, W) in [0, 1] as streamlit-drawable-canvas returns it: RGBA uint8."""
    value = np.round(np.clip(ink, 0, 1) * 255).astype(np.uint8)
    rgba = np.empty(ink.shape + (4,), np.uint8)
    if background == "opaque":       # white pen on a black canvas
        rgba[..., :3] = value[..., None]
        rgba[..., 3] = 255
    elif background == "transparent":  # white pen, transparent background
        rgba[..., :3] = 255
        rgba[..., 3] = value
    else:                              # black pen on white paper
        rgba[..., :3] = 255 - value[..., None]
        rgba[..., 3] = 255
    return rgba


# ---------------------------------------------------------------------------- drawn with the site's pen
# The Draw page's pen is a round brush 22 px wide on a 280 x 280 canvas, whatever the size of the
# digit: a small digit is drawn with strokes as fat as a large one's. The drawings below are made
# the same way: a 1-px path (the pen's centre line) widened into a stroke of the pen's width.

PEN = 22  # the Draw page's pen width, in canvas pixels


def pen_ink(path: np.ndarray, pen: float = PEN) -> np.ndarray:
    """A path (bool (H, W), the pen's centre line) drawn with a round pen `pen` px wide.

    Returns float32 ink in [0, 1], its edges anti-aliased over one pixel as a browser draws them.
    """
    if not path.any():
        return np.zeros(path.shape, np.float32)
    distance = ndimage.distance_transform_edt(~path)  # to the nearest point of the path
    return np.clip(pen / 2 + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def path_mask(strokes, shape=(CANVAS, CANVAS)) -> np.ndarray:
    """Polylines (each a sequence of (x, y) canvas points) rasterised as a 1-px path, bool (H, W)."""
    mask = np.zeros(shape, bool)
    for stroke in strokes:
        points = np.asarray(stroke, np.float64).reshape(-1, 2)
        if len(points) == 1:
            points = np.vstack([points, points])
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
            steps = max(2, int(np.hypot(x1 - x0, y1 - y0) * 2) + 1)  # every half pixel
            xs = np.round(np.linspace(x0, x1, steps)).astype(int)
            ys = np.round(np.linspace(y0, y1, steps)).astype(int)
            keep = (xs >= 0) & (xs < shape[1]) & (ys >= 0) & (ys < shape[0])
            mask[ys[keep], xs[keep]] = True
    return mask


def pen_strokes(strokes, pen: float = PEN) -> np.ndarray:
    """Polylines of canvas points drawn with the pen on a blank canvas: (CANVAS, CANVAS) ink."""
    return pen_ink(path_mask(strokes), pen)


def thin(mask: np.ndarray) -> np.ndarray:
    """The 1-px centre line of a binary shape, ends and branches kept (Zhang and Suen, 1984).

    Each pass peels off the shape's outer layer of pixels, except where that would cut a line in
    two or shorten one at its end, until nothing more can go.
    """
    img = np.pad(np.asarray(mask, bool), 1)
    changed = True
    while changed:
        changed = False
        for first in (True, False):
            # The 8 neighbours clockwise from north, P2..P9 in Zhang and Suen's paper.
            p = [np.roll(img, shift, axis=(0, 1)) for shift in
                 ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))]
            neighbours = sum(q.astype(np.int8) for q in p)
            crossings = sum((~p[i] & p[(i + 1) % 8]).astype(np.int8) for i in range(8))
            if first:   # the south-east side of the shape first ...
                side = ~(p[0] & p[2] & p[4]) & ~(p[2] & p[4] & p[6])
            else:       # ... then the north-west
                side = ~(p[0] & p[2] & p[6]) & ~(p[0] & p[4] & p[6])
            remove = img & (neighbours >= 2) & (neighbours <= 6) & (crossings == 1) & side
            if remove.any():
                img &= ~remove
                changed = True
    return img[1:-1, 1:-1]


def digit_path(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit's centre line as (n, 2) (y, x) points, its box scaled to 1 on the longer side."""
    return _digit_path(np.asarray(digit, np.uint8).tobytes()).copy()


@functools.lru_cache(maxsize=4096)
def _digit_path(digit: bytes) -> np.ndarray:
    big = ndimage.zoom(np.frombuffer(digit, np.uint8).reshape(28, 28) / 255.0, 6, order=1) >= 0.5  # 168 px
    points = np.argwhere(thin(big)).astype(np.float64)
    points -= points.min(axis=0)
    return points / max(points.max(), 1.0)


def pen_digit(digit: np.ndarray, size: int, top: int, left: int, pen: float = PEN) -> np.ndarray:
    """A real MNIST digit as a visitor draws it with a round pen `pen` px wide.

    Its centre line is scaled so the ink (pen included) is about `size` px on its longer side,
    with its top-left corner at (top, left) on a (CANVAS, CANVAS) canvas.
    """
    points = digit_path(digit) * max(size - pen, 1) + pen / 2 + np.array([top, left])
    path = np.zeros((CANVAS, CANVAS), bool)
    ys, xs = np.round(points).astype(int).T
    keep = (ys >= 0) & (ys < CANVAS) & (xs >= 0) & (xs < CANVAS)
    path[ys[keep], xs[keep]] = True
    # Scaling a 1-px path up leaves gaps of a pixel or two; a pen any wider than that closes them.
    return pen_ink(ndimage.binary_dilation(path, iterations=1) if pen < 5 else path, pen)


# Letters and signs as strokes in a unit box (x, y), y pointing down, as a visitor would draw them.
def _arc(cx, cy, rx, ry, start, stop, n=16):
    """Points on an ellipse from `start` to `stop` degrees (0 = right, counter-clockwise, y down)."""
    a = np.radians(np.linspace(start, stop, n))
    return [(cx + rx * np.cos(t), cy - ry * np.sin(t)) for t in a]


_HEART = np.linspace(0, 2 * np.pi, 40)


_ARC_S = np.radians(np.r_[np.linspace(20, 270, 12), np.linspace(90, -160, 12)])
SHAPES = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(0.9, 0), (0, 0.55)], [(0.3, 0.4), (1, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.75, 0.5)]],
    "S": [[(0.5 + 0.5 * np.cos(a), (0.25 if i < 12 else 0.75) - 0.25 * np.sin(a)) for i, a in enumerate(_ARC_S)]],
    "+": [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]],
    "#": [[(0.35, 0), (0.25, 1)], [(0.75, 0), (0.65, 1)], [(0, 0.33), (1, 0.33)], [(0, 0.67), (1, 0.67)]],
    "star": [[(0.5, 0), (0.2, 1), (1, 0.35), (0, 0.35), (0.8, 1), (0.5, 0)]],
    "square": [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]],
    "triangle": [[(0.5, 0), (1, 1), (0, 1), (0.5, 0)]],
    "B": [[(0, 0), (0, 1)], [(0, 0), *_arc(0.55, 0.25, 0.4, 0.25, 90, -90)],
          [(0, 0.5), *_arc(0.5, 0.75, 0.5, 0.25, 90, -90)]],
    "C": [_arc(0.5, 0.5, 0.5, 0.5, 45, 315, 20)],
    "D": [[(0, 0), (0, 1)], [(0, 0), *_arc(0.2, 0.5, 0.8, 0.5, 90, -90, 20), (0, 1)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "G": [_arc(0.5, 0.5, 0.5, 0.5, 45, 340, 20) + [(0.5, 0.6)]],
    "L": [[(0, 0), (0, 1), (0.8, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "P": [[(0, 1), (0, 0), *_arc(0.4, 0.27, 0.6, 0.27, 90, -90), (0, 0.54)]],
    "R": [[(0, 1), (0, 0), *_arc(0.4, 0.27, 0.6, 0.27, 90, -90), (0, 0.54)], [(0.35, 0.54), (1, 1)]],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "Z": [[(0, 0), (1, 0), (0, 1), (1, 1)]],
    "heart": [[(0.5 + 0.03 * 16 * np.sin(t) ** 3,
                0.42 - 0.03 * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)))
               for t in _HEART]],
    "arrow": [[(0, 0.5), (1, 0.5)], [(0.65, 0.2), (1, 0.5), (0.65, 0.8)]],
    "smiley": [_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 28), [(0.33, 0.35)], [(0.67, 0.35)],
               _arc(0.5, 0.55, 0.27, 0.2, 200, 340)],
    "spiral": [[(0.5 + t / 24 * np.cos(t), 0.5 + t / 24 * np.sin(t)) for t in np.linspace(0, 12, 40)]],
    "check": [[(0, 0.55), (0.35, 1), (1, 0)]],
    "circle-x": [_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 28), [(0.15, 0.15), (0.85, 0.85)], [(0.85, 0.15), (0.15, 0.85)]],
    "cloud": [_arc(0.25, 0.6, 0.25, 0.25, 270, 90) + _arc(0.5, 0.35, 0.25, 0.3, 180, 0)
              + _arc(0.75, 0.6, 0.25, 0.25, 90, -90) + [(0.25, 0.85)]],
}


def pen_shape(name: str, size: float, centre=(140, 140), rng=None, pen: float = PEN, turn: float = 10,
              wobble: float = 0.02) -> np.ndarray:
    """A letter or sign from SHAPES drawn with the pen, about `size` px across (pen included).

    With `rng`, drawn as a hand would: each stroke turned up to `turn` degrees, stretched, and its
    points moved by about `wobble` of the size.
    """
    core = max(size - pen, 1)
    strokes = []
    for stroke in SHAPES[name]:
        xy = (np.asarray(stroke, np.float64) - 0.5) * core
        if rng is not None:
            angle = np.radians(rng.uniform(-turn, turn))
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            xy = xy @ rotation.T * rng.uniform(0.85, 1.15, 2) + rng.normal(0, wobble * core, xy.shape)
        strokes.append(xy + np.asarray(centre, np.float64))
    return pen_strokes(strokes, pen)


def pen_line(length: float, angle: float, centre=(140, 140), pen: float = PEN) -> np.ndarray:
    """A straight stroke `length` px long (pen included) at `angle` degrees (0 = left to right)."""
    half = max(length - pen, 0) / 2 * np.array([np.cos(np.radians(angle)), -np.sin(np.radians(angle))])
    c = np.asarray(centre, np.float64)
    return pen_strokes([[c - half, c + half]], pen)


def pen_dot(centre=(140, 140), wiggle: float = 0.0, rng=None, pen: float = PEN) -> np.ndarray:
    """One tap of the pen, or with `wiggle` a tiny stroke within that many px of `centre`."""
    c = np.asarray(centre, np.float64)
    if wiggle and rng is not None:
        return pen_strokes([c + rng.uniform(-wiggle, wiggle, (4, 2))], pen)
    return pen_strokes([[c]], pen)


def pen_blob(radius: float, centre=(140, 140), rng=None) -> np.ndarray:
    """A filled, roughly round patch of ink (a scribbled-in area), `radius` px on average."""
    y, x = np.mgrid[:CANVAS, :CANVAS].astype(np.float64)
    angle = np.arctan2(y - centre[1], x - centre[0])
    rng = rng or np.random.default_rng(0)
    wobble = sum(rng.uniform(0, 0.15) * np.cos(k * angle + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5))
    edge = radius * (1 + wobble)
    return np.clip(edge + 0.5 - np.hypot(x - centre[0], y - centre[1]), 0, 1).astype(np.float32)


def pen_scribble(rng, size: float = 160, turns: int = 10, centre=(140, 140), pen: float = PEN) -> np.ndarray:
    """A tangle: a smooth random walk of `turns` turns within a box `size` px across."""
    core = (size - pen) / 2
    knots = rng.uniform(-core, core, (turns, 2))
    t = np.linspace(0, 1, turns)
    fine = np.linspace(0, 1, turns * 12)
    smooth = np.column_stack([np.interp(fine, t, knots[:, 0]), np.interp(fine, t, knots[:, 1])])
    smooth = ndimage.uniform_filter1d(smooth, 9, axis=0, mode="nearest")  # rounded corners
    return pen_strokes([smooth + np.asarray(centre, np.float64)], pen)


def pen_number(first: np.ndarray, second: np.ndarray, size: int = 150, gap: int = 16, top: int = 60,
               pen: float = PEN) -> np.ndarray:
    """Two MNIST digits side by side, as a visitor writes a two-digit number: each `size` px tall."""
    a = pen_digit(first, size, top, 0, pen)
    b = pen_digit(second, size, top, 0, pen)
    width_a = np.flatnonzero(a.any(axis=0)).max() + 1
    width_b = np.flatnonzero(b.any(axis=0)).max() + 1
    left = max(0, (CANVAS - width_a - gap - width_b) // 2)
    canvas = np.roll(a, left, axis=1)
    shift = left + width_a + gap
    canvas[:, shift:] = np.maximum(canvas[:, shift:], b[:, : CANVAS - shift])
    return canvas
