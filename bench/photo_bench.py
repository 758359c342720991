"""Digits on paper: how well the shipped model reads phone photos. Figures, not pass/fail.

    .venv/bin/python -m bench.photo_bench                  # 300 MNIST test digits, 5-10 minutes on 2 cores
    .venv/bin/python -m bench.photo_bench --count 65       # a quick look (5 photos a condition)
    .venv/bin/python -m bench.photo_bench --save-examples  # also rewrite tests/data/photo_*.jpg

What the photos are, honestly: SYNTHETIC. No photo here came from a camera. Each is a real MNIST
test digit (real handwriting, but MNIST's) rewritten as pen strokes: thinned to its centre line
and drawn again with a round nib, a ballpoint, a marker or a pencil, in black or blue. It lies on
made-up paper (grain, a tint, sometimes ruled lines) on a table, and is photographed: lit
unevenly, a shadow, the sheet turned and seen in perspective, out of focus, sensor noise, the
phone's exposure, saved as a JPEG of 1.2 or 1.9 megapixels. Every photo has a mild dose of all
of these and one condition pushed hard; "everything" pushes six at once (see EVERYTHING). Then
the same camera on blank paper (nothing should be found), on blank paper with a pen beside it, on
a page of printed text (refused), on digits with a pen, a mug or a table edge beside the sheet, and
on digits typed in the machine's fonts (DejaVu, Liberation): printed, not handwritten, so not
MNIST's style at all. Photos with no sheet of paper in them (a face, a person, a cat, a cup: real
photos from tests/data/no_paper, cropped, turned and lit anew) must be refused.

Each photo goes the site's way: mnistcore.photo.read_photo (the JPEG's bytes), photo_steps, the
shipped model (weights/default.npz). Printed: the model on the same digits straight from MNIST
(its ceiling), and drawn as clean ink through the canvas' steps (what the canvas preprocessing
alone costs); accuracy overall and per condition, with how often no digit was found; blank
photos in which a digit was found; the typed digits; time per photo (reading, finding the
digit, the model) and the time to read a 12-megapixel JPEG (a photo scaled up to 4032 x 3024).
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from bench import record
from mnistcore.data import load_mnist
from mnistcore.nets import load_model
from mnistcore.photo import NotPaper, photo_steps, read_photo
from mnistcore.preprocess import digit_steps

ROOT = Path(__file__).resolve().parent.parent

CONDITIONS = ("plain", "uneven light", "shadow", "off-centre", "small digit", "close-up", "tilted",
              "table edge", "blurry", "low JPEG quality", "lined paper", "pencil", "pen beside", "everything")
EVERYTHING = ("uneven light", "shadow", "off-centre", "tilted", "table edge", "lined paper")   # a bad photo
SIZES = ((1280, 960), (1600, 1200))   # landscape; a third turned portrait
FONTS = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Oblique.ttf", "dejavu/DejaVuSerif.ttf",
         "dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSansCondensed-Oblique.ttf",
         "liberation/LiberationSans-Regular.ttf", "liberation/LiberationSerif-Regular.ttf",
         "liberation/LiberationMono-Regular.ttf")
FONT_DIR = Path("/usr/share/fonts/truetype")
EXAMPLES = ((3, "shadow"), (7, "table edge"), (2, "tilted"), (5, "lined paper"))   # (digit, condition): for the tests
NO_PAPER = sorted((ROOT / "tests" / "data" / "no_paper").glob("*.jpg"))   # real photos with no sheet in them
OBJECTS = ("pen", "mug", "table edge")   # beside the sheet of a digit photo


# The ink: a digit as pen strokes ------------------------------------------------------------

def pen_ink(digit: np.ndarray, height: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """An MNIST digit (28x28 uint8) rewritten with a pen: ink (float 0-1) whose 20-px box is `height` px.

    MNIST's strokes are a marker's, a tenth of the digit's height; a ballpoint's are a third of
    that. So the digit is thinned to its centre line, which is drawn again with a round nib of
    the chosen width: a ballpoint or a pencil (3-6% of the height) or a marker (9-14%).
    """
    up = 4                                                       # the centre line is found at 4x MNIST
    smooth = np.asarray(Image.fromarray(digit.astype(np.float32) / 255, "F")
                        .resize((28 * up, 28 * up), Image.Resampling.BICUBIC), np.float32)
    smooth = ndimage.gaussian_filter(smooth, 1.0)
    line = _thinned(smooth > 0.4 * np.percentile(smooth[smooth > 0.1], 90))   # a faint digit too
    width = height * (rng.uniform(0.09, 0.14) if kind == "marker" else rng.uniform(0.03, 0.06))
    side = round(28 * height / 20)
    zoom = 2 * side / (28 * up)                                  # drawn at 2x, then averaged down
    canvas = Image.new("L", (2 * side, 2 * side), 0)
    draw = ImageDraw.Draw(canvas)
    nib = max(1.0, width)                                        # the nib's radius at 2x = its width at 1x
    ys, xs = np.nonzero(line)
    points = set(zip(ys.tolist(), xs.tolist()))
    for y, x in points:
        cy, cx = (y + 0.5) * zoom, (x + 0.5) * zoom
        draw.ellipse((cx - nib, cy - nib, cx + nib, cy + nib), fill=255)
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            if (y + dy, x + dx) in points:
                draw.line((cx, cy, cx + dx * zoom, cy + dy * zoom), fill=255, width=max(1, round(2 * nib)))
    ink = np.asarray(canvas.reduce(2), np.float32) / 255
    if kind == "pencil":                                         # graphite: grainy, never quite solid
        ink = ink * np.clip(0.75 + 0.25 * rng.standard_normal(ink.shape), 0.3, 1)
    pressure = ndimage.gaussian_filter(rng.standard_normal(ink.shape), max(1.0, height / 10))
    return (ink * (1 - 0.1 * np.abs(pressure) / (pressure.std() + 1e-9))).clip(0, 1).astype(np.float32)


def _thinned(mask: np.ndarray) -> np.ndarray:
    """Zhang and Suen's thinning (1984): a binary image reduced to 1-px lines, ends kept."""
    image = np.pad(mask, 1).astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(image, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]   # P2..P9
            neighbours = sum(p)
            turns = sum((p[k] == 0) & (p[(k + 1) % 8] == 1) for k in range(8))
            if step == 0:
                gone = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                gone = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            remove = (image == 1) & (neighbours >= 2) & (neighbours <= 6) & (turns == 1) & gone
            if remove.any():
                image[remove] = 0
                changed = True
        if not changed:
            return image[1:-1, 1:-1].astype(bool)


def typed_ink(digit: int, font_path: Path, height: int) -> np.ndarray:
    """A digit typed in a font, as ink (float 0-1), about `height` px tall."""
    font = ImageFont.truetype(str(font_path), size=round(height * 1.35))
    canvas = Image.new("L", (height * 2, height * 2), 0)
    ImageDraw.Draw(canvas).text((height // 2, height // 4), str(digit), fill=255, font=font)
    ink = np.asarray(canvas, np.float32) / 255
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    pad = height // 5
    return np.pad(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], pad)


def printed_page(s: dict) -> np.ndarray:
    """Ink of a page of printed text filling most of the sheet."""
    width, height = s["size"]
    page = Image.new("L", (int(width * 0.8), int(height * 0.8)), 0)
    face = ImageFont.truetype(str(FONT_DIR / FONTS[0]), max(10, height // 40))
    words = "The quick brown fox jumps over the lazy dog while the digits wait on the table".split()
    draw = ImageDraw.Draw(page)
    for row, y in enumerate(range(10, page.height - 20, max(14, height // 28))):
        draw.text((10, y), " ".join(words[(row + k) % len(words)] for k in range(12)), fill=255, font=face)
    return np.asarray(page, np.float32) / 255


# The photo ------------------------------------------------------------------------------------

def settings(condition: str, rng: np.random.Generator) -> dict:
    """The photo's parameters: a mild dose of everything, and `condition` pushed hard."""
    u = rng.uniform
    hard = {c: condition == c or (condition == "everything" and c in EVERYTHING) for c in CONDITIONS}
    size = SIZES[rng.integers(len(SIZES))]
    edges = rng.choice(4, size=rng.integers(1, 3), replace=False)      # where the table shows
    return dict(
        size=size[::-1] if rng.random() < 1 / 3 else size,
        digit_height=u(0.09, 0.14) if hard["small digit"] else u(0.6, 0.75) if hard["close-up"] else u(0.22, 0.45),
        offset=((u(0.18, 0.28) if hard["off-centre"] else u(0, 0.08))
                * np.array([np.cos(a := u(0, 2 * np.pi)), np.sin(a)])),
        kind="pencil" if hard["pencil"] else rng.choice(["pen", "pen", "marker"]),
        ink_colour=np.array([0.42, 0.42, 0.45]) if hard["pencil"] else
        np.array([0.08, 0.08, 0.1]) if rng.random() < 0.5 else np.array([0.1, 0.16, 0.45]),
        opacity=u(0.5, 0.75) if hard["pencil"] else u(0.85, 1.0),
        paper=np.array([0.93, 0.92, 0.88]) + u(-0.04, 0.03, 3),
        lined=hard["lined paper"] or rng.random() < 0.1,
        angle=u(10, 25) * rng.choice([-1, 1]) if hard["tilted"] else u(-5, 5),
        perspective=u(0.06, 0.12) if hard["tilted"] else u(0, 0.03),
        inset=[u(0.1, 0.3) if (hard["table edge"] or hard["pen beside"]) and side in edges else 0.0
               for side in range(4)],
        pen_beside=hard["pen beside"],               # a pen lying on the table beside the sheet
        table=np.array([0.42, 0.28, 0.17]) * u(0.4, 1.2) if rng.random() < 0.6 else np.full(3, u(0.15, 0.35)),
        light=u(0.35, 0.6) if hard["uneven light"] else u(0.8, 1.0),
        exposure=u(0.7, 0.95),                       # the brightest paper's grey level
        shadow=u(0.4, 0.65) if hard["shadow"] else None,
        blur=u(2.0, 3.5) if hard["blurry"] else u(0.4, 1.0),
        noise=u(0.02, 0.035) if hard["low JPEG quality"] else u(0.008, 0.02),
        quality=int(u(35, 55)) if hard["low JPEG quality"] else int(u(75, 93)),
    )


def photograph(ink: np.ndarray, s: dict, rng: np.random.Generator) -> np.ndarray:
    """The ink on a sheet of paper on a table, photographed: (H, W, 3) float32 RGB in [0, 1]."""
    width, height = s["size"]
    scale = min(width, height) / 960               # sizes below are for a 960-px short side
    # The sheet, in its own coordinates (the photo's size): paper grain, lines, the ink.
    grain = _texture(rng, (height, width), (1.5 * scale, 1.5 * scale)) * 0.012
    sheet = s["paper"].astype(np.float32) * (1 + grain[..., None])
    if s["lined"]:
        step = max(12, round(rng.uniform(0.3, 0.45) * s["digit_height"] * min(width, height)))
        lines = np.zeros(height, np.float32)
        lines[round(rng.uniform(0, step))::step] = 0.5
        lines = ndimage.gaussian_filter1d(lines, 0.8 * scale)[:, None, None] * 2
        sheet = sheet * (1 - lines) + np.array([0.55, 0.7, 0.88], np.float32) * lines
    if ink.any():
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ink = ink[: height - 2, : width - 2]
    h, w = ink.shape
    cy = int(np.clip(height / 2 + s["offset"][0] * height - h / 2, 0, height - h))
    cx = int(np.clip(width / 2 + s["offset"][1] * width - w / 2, 0, width - w))
    alpha = np.zeros((height, width), np.float32)
    alpha[cy:cy + h, cx:cx + w] = ink[: height - cy, : width - cx] * s["opacity"]
    sheet = sheet * (1 - alpha[..., None]) + s["ink_colour"].astype(np.float32) * alpha[..., None]
    sheet_image = Image.fromarray(np.round(np.clip(sheet, 0, 1) * 255).astype(np.uint8)).convert("RGBA")
    # Where the sheet lies in the photo: turned, seen in perspective, one or two edges inside it.
    angle = np.radians(s["angle"])
    cover = abs(np.cos(angle)) + abs(np.sin(angle)) * max(width / height, height / width)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * [width / 2, height / 2] * cover * 1.02
    top, right, bottom, left = s["inset"]
    corners[[0, 1], 1] += top * height * cover
    corners[[1, 2], 0] -= right * width * cover
    corners[[2, 3], 1] -= bottom * height * cover
    corners[[0, 3], 0] += left * width * cover
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = corners @ rotation.T + [width / 2, height / 2]
    corners += rng.uniform(-1, 1, (4, 2)) * s["perspective"] * min(width, height)
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], float)
    # Whoever takes the photo keeps the digit in the frame: move the sheet until it is.
    digit = _mapped(_perspective(source, corners), [[cx, cy], [cx + w, cy], [cx + w, cy + h], [cx, cy + h]])
    margin = 0.04 * np.array([width, height])
    corners += np.maximum(margin - digit.min(axis=0), 0) - np.maximum(digit.max(axis=0) - ([width, height] - margin), 0)
    warped = sheet_image.transform((width, height), Image.Transform.PERSPECTIVE, _perspective(corners, source),
                                   Image.Resampling.BICUBIC, fillcolor=(0, 0, 0, 0))
    warped = np.asarray(warped, np.float32) / 255
    grain = 1 + 0.1 * _texture(rng, (height, width), (1 * scale, 25 * scale))
    table = s["table"].astype(np.float32) * grain[..., None]
    cover_alpha = warped[..., 3:]
    if s.get("pen_beside"):
        table = _pen_on(table, cover_alpha[..., 0], rng)
    if s.get("mug_beside"):
        table = _mug_on(table, cover_alpha[..., 0], rng)
    photo = table * (1 - cover_alpha) + warped[..., :3] * cover_alpha
    # Light: exposure and colour cast, a gradient across the photo, a vignette, perhaps a shadow.
    y, x = np.ogrid[0:height, 0:width]
    y, x = (y / height - 0.5).astype(np.float32), (x / width - 0.5).astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    along = (np.cos(direction) * x + np.sin(direction) * y) / 0.71 + 0.5      # 0 to 1 across
    light = (s["light"] + (1 - s["light"]) * along) * (1 - 0.25 * (x**2 + y**2))
    if s["shadow"] is not None:
        # A straight-edged shadow (a hand, the phone) whose edge runs near the digit's middle.
        facing = rng.uniform(0, 2 * np.pi)
        dy, dx = s["offset"][0] + rng.uniform(-0.05, 0.05), s["offset"][1] + rng.uniform(-0.05, 0.05)
        side = np.cos(facing) * (x - dx) + np.sin(facing) * (y - dy)
        light = light * (1 - (1 - s["shadow"]) / (1 + np.exp(-side / rng.uniform(0.005, 0.03))))
    cast = (1 + rng.uniform(-0.05, 0.05, 3)).astype(np.float32)
    photo = photo * light.astype(np.float32)[..., None] * cast
    sigma = s["blur"] * scale
    photo = np.stack([ndimage.gaussian_filter(photo[..., c], sigma) for c in range(3)], axis=-1)
    # The phone exposes for the bright paper; a dim scene is amplified, and its noise with it.
    gain = s["exposure"] / max(float(np.percentile(photo[::4, ::4].mean(axis=-1), 95)), 0.05)
    photo *= gain
    noise = s["noise"] * np.sqrt(max(gain, 1.0))
    photo += rng.standard_normal(photo.shape, np.float32) * noise
    photo += _texture(rng, (height, width), (1.0, 1.0))[..., None] * noise
    return np.clip(photo, 0, 1)


def _pen_on(table: np.ndarray, sheet: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The table with a dark pen lying on it, near the sheet (`sheet`: how much of each pixel it covers)."""
    height, width = sheet.shape
    free = ndimage.distance_transform_edt(sheet < 0.5)            # how far from the sheet, px
    thick = 0.022 * min(height, width)
    near = np.argwhere((free > thick) & (free < 3 * thick))
    if len(near) == 0:
        return table
    cy, cx = near[rng.integers(len(near))]
    angle, half = rng.uniform(0, np.pi), rng.uniform(0.2, 0.35) * min(height, width)
    y, x = np.ogrid[0:height, 0:width]
    along = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
    across = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
    body = np.clip(thick / 2 + 0.5 - np.hypot(np.clip(np.abs(along) - half, 0, None), across), 0, 1)
    colour = np.array([0.05, 0.05, 0.08]) if rng.random() < 0.5 else np.array([0.1, 0.15, 0.5])
    return table * (1 - body[..., None]) + colour.astype(np.float32) * body[..., None]


def _mug_on(table: np.ndarray, sheet: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The table with a mug seen from above beside the sheet: a coloured rim round dark coffee, a handle."""
    height, width = sheet.shape
    free = ndimage.distance_transform_edt(sheet < 0.5)
    radius = rng.uniform(0.08, 0.13) * min(height, width)
    near = np.argwhere((free > 1.05 * radius) & (free < 1.4 * radius))
    if len(near) == 0:
        return table
    cy, cx = near[rng.integers(len(near))]
    y, x = np.ogrid[0:height, 0:width]
    distance = np.hypot(y - cy, x - cx)
    angle = rng.uniform(0, 2 * np.pi)
    along = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
    across = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
    handle = (along > radius * 0.9) & (along < radius * 1.45) & (np.abs(across) < radius * 0.18)
    mug = np.clip(radius + 0.5 - distance, 0, 1)
    mug = np.maximum(mug, handle.astype(np.float32))
    coffee = np.clip(radius * 0.85 + 0.5 - distance, 0, 1)
    rim = np.array([[0.9, 0.9, 0.88], [0.7, 0.15, 0.12], [0.15, 0.3, 0.6]])[rng.integers(3)]
    out = table * (1 - mug[..., None]) + rim.astype(np.float32) * mug[..., None]
    return out * (1 - coffee[..., None]) + np.array([0.18, 0.1, 0.05], np.float32) * coffee[..., None]


def _texture(rng: np.random.Generator, shape: tuple[int, int], sigma: tuple[float, float]) -> np.ndarray:
    """Smooth noise, about unit spread: white noise blurred by `sigma` (made at a quarter size
    when the blur is wide, for speed)."""
    factor = 4 if max(sigma) >= 8 else 1
    small = (shape[0] // factor + 1, shape[1] // factor + 1)
    noise = ndimage.gaussian_filter(rng.standard_normal(small, np.float32), (sigma[0] / factor, sigma[1] / factor))
    if factor > 1:
        noise = np.asarray(Image.fromarray(noise, "F").resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    return noise[: shape[0], : shape[1]] / (noise.std() + 1e-9)


def _perspective(photo_corners: np.ndarray, sheet_corners: np.ndarray) -> tuple:
    """PIL's PERSPECTIVE coefficients mapping photo points to sheet points (4 correspondences)."""
    rows, values = [], []
    for (x, y), (u, v) in zip(photo_corners, sheet_corners):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    return tuple(np.linalg.solve(np.array(rows), np.array(values)))


def _mapped(coefficients: tuple, points) -> np.ndarray:
    """Points (x, y) mapped by PIL-style PERSPECTIVE coefficients."""
    a, b, c, d, e, f, g, h = coefficients
    x, y = np.asarray(points, float).T
    return np.stack([(a * x + b * y + c) / (g * x + h * y + 1), (d * x + e * y + f) / (g * x + h * y + 1)], axis=1)


def jpeg(photo: np.ndarray, quality: int, size: tuple[int, int] | None = None) -> bytes:
    picture = Image.fromarray(np.round(photo * 255).astype(np.uint8))
    if size:
        picture = picture.resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def make_photo(ink_source, condition: str, rng: np.random.Generator,
               changes: dict | None = None) -> tuple[bytes, np.ndarray, dict]:
    """(JPEG bytes, the clean ink as drawn, the settings) for one photo (`changes`: settings to override)."""
    s = settings(condition, rng) | (changes or {})
    box = max(12, round(s["digit_height"] * min(s["size"])))
    ink = ink_source(box, s)
    photo = photograph(ink, s, rng)
    return jpeg(photo, s["quality"]), ink, s


# Running it -----------------------------------------------------------------------------------

def read(data: bytes, model) -> tuple[int | str | None, float, float, float]:
    """(the model's answer, None for no digit, or why the photo was refused: "printed", "no_paper";
    then seconds reading, finding the digit, asking the model)."""
    t0 = time.perf_counter()
    grey = read_photo(data)
    t1 = time.perf_counter()
    try:
        steps = photo_steps(grey)
    except NotPaper as refused:  # refused in plain words: a page of print, no paper at all
        return refused.kind, t1 - t0, time.perf_counter() - t1, 0.0
    t2 = time.perf_counter()
    answer = None if steps is None else int(model.predict(steps.centred[None])[0])
    return answer, t1 - t0, t2 - t1, time.perf_counter() - t2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="MNIST test digits (photos) to make")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-examples", action="store_true", help="rewrite the tests' example photos")
    record.add_argument(parser)
    args = parser.parse_args()
    with record.recording("bench.photo_bench", args.record):
        run(args)


def run(args) -> None:
    (_, _), (x_test, y_test) = load_mnist()
    model = load_model()
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(len(x_test), args.count, replace=False)
    digits, labels = x_test[chosen], y_test[chosen].astype(int)

    print(f"{args.count} synthetic photos of MNIST test digits (seed {args.seed}); the shipped model")
    straight = model.predict(digits.astype(np.float32) / 255)
    print(f"  the same digits straight from MNIST:          {np.mean(straight == labels):6.1%}")

    results = {c: [] for c in CONDITIONS}
    clean, times, sizes = [], [], []
    for i, (digit, label) in enumerate(zip(digits, labels)):
        condition = CONDITIONS[i % len(CONDITIONS)]
        data, ink, s = make_photo(lambda box, s, digit=digit: pen_ink(digit, box, rng, s["kind"]), condition, rng)
        steps = digit_steps(np.pad(ink, 4))
        clean.append(steps is not None and int(model.predict(steps.centred[None])[0]) == label)
        answer, *seconds = read(data, model)
        results[condition].append((answer, label))
        times.append(seconds)
        sizes.append((s["size"], len(data)))
    print(f"  ...drawn as clean ink, through the canvas' steps: {np.mean(clean):6.1%}")
    report(results)
    print(f"  (\"everything\": {', '.join(EVERYTHING)}, at once)")

    blank = [read(make_photo(lambda box, s: np.zeros((box, box), np.float32), CONDITIONS[i % len(CONDITIONS)],
                             rng)[0], model)[0] for i in range(args.count // 10)]
    print(f"  blank paper, nothing written ({len(blank)} photos, conditions in turn): "
          f"a digit found in {sum(isinstance(answer, int) for answer in blank)}")
    with_pen = [read(make_photo(lambda box, s: np.zeros((box, box), np.float32), "pen beside", rng)[0], model)[0]
                for _ in range(max(10, args.count // 10))]
    print(f"  blank paper with a pen beside it ({len(with_pen)} photos): "
          f"a digit found in {sum(isinstance(answer, int) for answer in with_pen)}")
    printed = [read(make_photo(lambda box, s: printed_page(s), CONDITIONS[i % 3], rng)[0], model)[0]
               for i in range(max(10, args.count // 10))]
    print(f"  a printed page of text ({len(printed)} photos): refused as print in "
          f"{printed.count('printed')}, as no paper in {printed.count('no_paper')}, "
          f"a digit found in {sum(isinstance(answer, int) for answer in printed)}")
    no_paper = [read(data, model)[0] for data in no_paper_photos(rng, max(20, args.count // 10))]
    print(f"  photos with no sheet of paper (a face, a person, a cat, a cup; {len(no_paper)} photos): refused as "
          f"no paper in {no_paper.count('no_paper')}, as print in {no_paper.count('printed')}, "
          f"a digit found in {sum(isinstance(answer, int) for answer in no_paper)}")
    beside = objects_beside(digits, labels, rng, model, max(10, args.count // 30))
    for thing in OBJECTS:
        pairs = beside[thing]
        print(f"  digits with a {thing} beside the sheet ({len(pairs)} photos): read right in "
              f"{sum(answer == label for answer, label in pairs)}")
    everything = [pair for pairs in beside.values() for pair in pairs]
    print(f"  ...any of them: {sum(answer == label for answer, label in everything)} of {len(everything)} right")

    print("\nTyped digits (fonts, not handwriting), the same synthetic camera, conditions in turn")
    typed = {}
    for font in FONTS:
        if (FONT_DIR / font).exists():
            typed[Path(font).stem] = []
            for digit in range(10):
                condition = CONDITIONS[(len(typed) + digit) % len(CONDITIONS)]
                def ink(box, s, digit=digit, face=FONT_DIR / font):
                    return typed_ink(digit, face, box)

                data, _, _ = make_photo(ink, condition, rng)
                typed[Path(font).stem].append((read(data, model)[0], digit))
    report(typed, "font")

    reading, finding, asking = (np.array(column) * 1000 for column in zip(*times))
    total = reading + finding + asking
    megapixels = np.mean([w * h for (w, h), _ in sizes]) / 1e6
    print(f"\nTime per photo (ms; median / 95th pct.; photos {megapixels:.1f} Mpx, "
          f"{np.mean([n for _, n in sizes]) / 1e3:.0f} KB on average)")
    for name, column in (("read (decode, turn, grey)", reading), ("find the digit + steps", finding),
                         ("the model", asking), ("all", total)):
        print(f"  {name:28s} {np.median(column):6.1f} / {np.percentile(column, 95):6.1f}")
    big = []
    for i in range(5):
        photo = photograph(pen_ink(digits[i], 500, rng, "pen"), settings("plain", rng) | {"size": (1600, 1200)}, rng)
        data = jpeg(photo, 90, (4032, 3024))
        begin = time.perf_counter()
        read_photo(data)
        big.append((time.perf_counter() - begin) * 1000)
    print(f"  reading a 12-megapixel JPEG ({len(data) / 1e6:.1f} MB): {statistics.median(big):.0f} ms")

    if args.save_examples:
        save_examples(x_test, y_test)

def no_paper_photos(rng: np.random.Generator, count: int) -> list[bytes]:
    """`count` JPEGs made from the photos with no paper in them: cropped, turned, lit and sized anew."""
    made = []
    for i in range(count):
        picture = Image.open(NO_PAPER[i % len(NO_PAPER)]).convert("RGB")
        w, h = picture.size
        keep = rng.uniform(0.6, 1.0)
        left, top = rng.uniform(0, 1 - keep) * w, rng.uniform(0, 1 - keep) * h
        picture = picture.crop((round(left), round(top), round(left + keep * w), round(top + keep * h)))
        picture = picture.rotate(rng.uniform(-15, 15), Image.Resampling.BICUBIC, expand=False)
        side = int(rng.choice([960, 1280, 1600]))
        picture = picture.resize((side, round(side * picture.height / picture.width)), Image.Resampling.BICUBIC)
        photo = np.asarray(picture, np.float32) / 255 * rng.uniform(0.6, 1.15)
        photo = photo + rng.standard_normal(photo.shape).astype(np.float32) * rng.uniform(0.005, 0.02)
        made.append(jpeg(np.clip(photo, 0, 1), int(rng.uniform(60, 92))))
    return made


def objects_beside(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator, model,
                   each: int) -> dict[str, list]:
    """(answer, label) for `each` digit photos with a pen, a mug or a table edge beside the sheet."""
    beside = {}
    for k, thing in enumerate(OBJECTS):
        changes = {"pen": None, "mug": {"pen_beside": False, "mug_beside": True}, "table edge": None}[thing]
        condition = "table edge" if thing == "table edge" else "pen beside"
        beside[thing] = []
        for i in range(each):
            digit, label = digits[(k * each + i) % len(digits)], labels[(k * each + i) % len(digits)]
            data, _, _ = make_photo(lambda box, s, digit=digit: pen_ink(digit, box, rng, s["kind"]), condition,
                                    rng, changes)
            beside[thing].append((read(data, model)[0], label))
    return beside


def report(results: dict[str, list], kind: str = "condition") -> None:
    everything = [pair for pairs in results.values() for pair in pairs]
    print(f"  {kind:28s} {'photos':>6s} {'right':>7s} {'no digit':>9s} {'refused':>8s}")
    for name, pairs in list(results.items()) + [("all", everything)]:
        if not pairs:
            continue
        right = np.mean([answer == label for answer, label in pairs])
        missing = np.mean([answer is None for answer, _ in pairs])
        refused = np.mean([isinstance(answer, str) for answer, _ in pairs])
        print(f"  {name:28s} {len(pairs):6d} {right:7.1%} {missing:9.1%} {refused:8.1%}")


def save_examples(x_test: np.ndarray, y_test: np.ndarray) -> None:
    """A few small photos (640 x 480, under 60 KB) for tests/test_photo.py, with the digit in the name."""
    rng = np.random.default_rng(1)
    folder = ROOT / "tests" / "data"
    folder.mkdir(exist_ok=True)
    for label, condition in EXAMPLES:
        digit = x_test[np.flatnonzero(y_test == label)[0]]
        s = settings(condition, rng) | {"size": (640, 480), "quality": 80}
        photo = photograph(pen_ink(digit, round(s["digit_height"] * 480), rng, s["kind"]), s, rng)
        data = jpeg(photo, 80)
        path = folder / f"photo_{label}_{condition.replace(' ', '_')}.jpg"
        path.write_bytes(data)
        print(f"saved {path.relative_to(ROOT)} ({len(data) / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
