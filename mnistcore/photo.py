"""A digit on paper, photographed with a phone, turned into what the network sees.

A photo is not a drawing: the paper is grey and unevenly lit, there is a shadow, a table edge, a
fold, and the digit is somewhere off-centre. So before the canvas' steps (mnistcore.preprocess)
can run, the ink is found:
0. the sheet of paper is found (mnistcore.paper), and a photo of no paper (a face, a room) or of a
   page of print is refused;
1. the paper's own brightness, lighting and shadows included, is estimated everywhere (the photo
   with its thin dark strokes closed over) and divided out: what remains is how much darker than
   its paper each pixel is;
2. ink is what is clearly darker than its paper and clear of the camera's noise (thresholds from
   the photo's own figures), grown into its fainter edges;
3. of the dark regions left, specks, blots, straight lines that carry on (ruled lines, folds,
   edges) and whatever runs into the photo's edge (the table, a shadow) give way to the largest
   region nearest the middle: the digit, with any pieces of it close by (a stroke the pen
   skipped). Failing that, fainter ink is tried (a pencil), then light ink on a dark board;
4. that ink, cut out with a margin, goes through the canvas' own steps (crop, 20-px box, centre
   of mass, stroke width), so a photo and a drawing reach the network the same way.

The file comes from a visitor and may be anything. As for drawings (mnistcore.canvas), the checks
run from the cheapest up, and nothing is decoded until they pass: a byte budget; JPEG, PNG or
WebP by their first bytes; the size in the header (Pillow reads only that when it opens a file)
within bounds; only then the pixels, a JPEG at a reduced scale where the photo is larger than
needed. Every problem is a PhotoError with a plain message.
"""
from __future__ import annotations

import io
import struct
import threading
import warnings

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

from .paper import otsu, paper_light, refusal, sheet_of_paper
from .preprocess import Steps, digit_steps

MAX_BYTES = 10 * 1024 * 1024  # a 12-megapixel phone JPEG is 2-5 MB
MAX_PHOTO_SIDE = 6000         # pixels a side: a 24-megapixel phone photo is 5712 x 4284
MAX_PIXELS = 25_000_000
# PNG and WebP cannot be decoded at a reduced size (only JPEG can): the whole picture is held at
# once, 4 bytes a pixel, so they get a smaller budget. A phone's screenshot is 3-4 megapixels.
MAX_LOSSLESS_PIXELS = 8_000_000
DECODES_AT_ONCE = 1           # photos one server process decodes at a time (peak memory: one big picture)
DECODE_WAIT = 20.0            # ...the others waiting this many seconds at most, then told to try again
_decoding = threading.BoundedSemaphore(DECODES_AT_ONCE)
MIN_SIDE = 28                 # MNIST's own size: anything smaller cannot hold a readable digit
WORK_SIDE = 1024              # photos are read at most this large (the longer side): plenty for a digit

MIN_CONTRAST = 0.15            # ink is at least this much darker than its paper (0.15 = 15%)
BOARD_CONTRAST = 0.4           # light ink (chalk) at least this much lighter than its board, inverted
NOISE_MARGIN = 6.0             # ...and stands this many noise deviations above the paper's grain
MIN_PIECE = 0.02               # a dark region shorter than this fraction of the photo is a speck
MAX_PIECE = 0.9                # ...and one longer than this, a line: a fold, an edge
MAX_THICKNESS = 0.3            # the digit's thickest stroke is at most this fraction of its size
MARGIN = 0.15                  # the digit is cut out with this much of its size around it
MIN_SOLID = 0.5                # of the digit's ink at least this share is inside a stroke (photos of digits: 73%+)


class PhotoError(ValueError):
    """The file is not a photo that can be read; the message says why, in plain words."""


class NotPaper(PhotoError):
    """The photo is read, but it does not show one digit on paper: `kind` says what it shows instead,
    "printed" (a page of print or writing) or "no_paper" (a face, a room: no sheet of paper)."""

    def __init__(self, kind: str):
        if kind not in NOT_PAPER:
            raise ValueError(f"a photo that is not of paper is one of {', '.join(NOT_PAPER)}, got {kind!r}")
        super().__init__(NOT_PAPER[kind])
        self.kind = kind


NOT_PAPER = {"printed": "it looks like a page of writing or print, not one digit: write a single digit large "
                        "on a sheet of its own",
             "no_paper": "there is no sheet of paper in it: write a digit large on white paper and photograph that"}


# Reading a file ---------------------------------------------------------------------------

def read_photo(data: bytes, max_side: int = WORK_SIDE) -> np.ndarray:
    """The photo in `data` (a JPEG, PNG or WebP file's bytes) as an (H, W) uint8 grey image.

    Turned upright as the camera recorded it (EXIF orientation), and scaled down, aspect kept, so
    its longer side is at most `max_side` px. PhotoError if the file is not a photo that can be
    read: empty, too large, another format, a header claiming too many pixels, damaged data.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PhotoError("the picture did not arrive as a file")
    data = bytes(data)
    if not data:
        raise PhotoError("the file is empty")
    if len(data) > MAX_BYTES:
        raise PhotoError(f"the file is too large ({len(data):,} bytes; at most {MAX_BYTES:,})")
    kind = photo_format(data)
    try:
        # Pillow's own bomb warning depends on a process-wide limit (mnistcore.canvas sets it for
        # drawings); photos are bounded by their header just below, before anything is decoded.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data), formats=[kind])
    except Image.DecompressionBombError:
        raise PhotoError(f"the picture claims to be far larger than any photo (at most {MAX_PHOTO_SIDE} px "
                         f"a side and {MAX_PIXELS // 1_000_000} megapixels)") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError):
        raise PhotoError(f"the file starts like a {kind} picture but cannot be read (damaged?)") from None
    with picture:
        width, height = picture.size
        if max(width, height) > MAX_PHOTO_SIDE or width * height > MAX_PIXELS:
            raise PhotoError(f"the picture is {width} x {height} pixels; at most {MAX_PHOTO_SIDE} px a side "
                             f"and {MAX_PIXELS // 1_000_000} megapixels")
        if min(width, height) < MIN_SIDE:
            raise PhotoError(f"the picture is {width} x {height} pixels; at least {MIN_SIDE} px a side")
        if kind != "JPEG" and width * height > MAX_LOSSLESS_PIXELS:
            raise PhotoError(f"the {kind} picture is {width} x {height} pixels; a {kind} may have at most "
                             f"{MAX_LOSSLESS_PIXELS // 1_000_000} megapixels (a JPEG, {MAX_PIXELS // 1_000_000})")
        if not _decoding.acquire(timeout=DECODE_WAIT):
            raise PhotoError("the server is busy reading other photos: please try again in a moment")
        try:
            return _decoded(picture, max_side)
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error,
                MemoryError, Image.DecompressionBombError) as err:
            raise PhotoError(f"the {kind} picture cannot be decoded: the file is damaged or cut short "
                             f"({type(err).__name__})") from None
        finally:
            _decoding.release()


def photo_format(data: bytes) -> str:
    """"JPEG", "PNG" or "WEBP", from a file's first bytes; PhotoError for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise PhotoError("the file is not a JPEG, PNG or WebP picture")


def _decoded(picture: Image.Image, max_side: int) -> np.ndarray:
    """Decode an opened, size-checked picture: grey, upright, longer side at most `max_side`."""
    width, height = picture.size
    scale = min(1.0, max_side / max(width, height))
    # A JPEG decodes at 1/2, 1/4 or 1/8 of its size when asked (no smaller than asked): a
    # 12-megapixel photo costs a fraction of the time and memory. Other formats ignore this.
    picture.draft("L", (max(1, round(width * scale)), max(1, round(height * scale))))
    picture.load()
    # Made small first, in the mode it was decoded in: the conversions below then copy a small picture.
    if max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.BOX)
    upright = ImageOps.exif_transpose(picture)
    if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
        # Transparent parts are paper: put the picture on white, not on the black its hidden colours often are.
        rgba = upright.convert("RGBA")
        upright = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if upright.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = Image.fromarray((np.asarray(upright, np.float32) / 257.0).clip(0, 255).astype(np.uint8))
    else:
        grey = upright.convert("L")
    if max(grey.size) > max_side:
        grey.thumbnail((max_side, max_side), Image.Resampling.BOX)
    return np.asarray(grey, np.uint8)


# Finding the digit ------------------------------------------------------------------------

def photo_steps(image: np.ndarray) -> Steps | None:
    """Every preprocessing step for a photo of a digit on paper; None when no digit is found.

    `image`: the photo as read_photo returns it, (H, W) grey, or (H, W, 3) RGB / (H, W, 4) RGBA;
    uint8 0-255 or float 0-1. Dark ink on light paper, or light ink on a dark board. The steps
    are the canvas' (mnistcore.preprocess.Steps), `ink` being the digit's ink cut out of the photo.
    NotPaper when the photo shows no sheet of paper, or a page of print.
    """
    grey = _grey(image)
    sheet = sheet_of_paper(grey)
    # A face, a room, a page of print: said so before any ink is looked for.
    grey_paper = paper_light(grey)
    kind = refusal(grey, grey_paper, sheet)
    if kind is not None:
        raise NotPaper(kind)
    # Dark ink on light paper; failing that, in a dark photo, light ink on a dark board (chalk),
    # turned round, and standing out more (a shadow or a table must not pass for a board).
    tries = [(grey, MIN_CONTRAST)] + ([(1.0 - grey, BOARD_CONTRAST)] if np.median(grey) < 0.5 else [])
    for seen, contrast in tries:
        paper = grey_paper if seen is grey else paper_light(seen)
        drop = np.clip(paper - seen, 0.0, None)      # the light the ink takes away
        darkness = drop / paper                      # ...as a fraction of its paper's: 0 paper, 1 black
        if sheet is not None and seen is grey:       # only what is on the sheet: not a pen beside it
            darkness = np.where(sheet, darkness, 0.0)
            drop = np.where(sheet, drop, 0.0)
        pieces = _digit_pieces(darkness, drop, contrast)
        if pieces is not None:
            return digit_steps(_cut_out(darkness, pieces))
    return None


def _digit_pieces(darkness: np.ndarray, drop: np.ndarray, contrast: float) -> np.ndarray | None:
    """A (H, W) bool mask of the digit's ink, or None when nothing in the photo looks like one.

    `darkness`: how much darker than its paper each pixel is (0-1); `drop`: the same in grey
    levels, in which the camera's noise is about the same everywhere (in a shadow, dividing by
    the dim paper would magnify it); `contrast`: the least darkness ink may have.
    """
    # The paper's grain: most pixels are paper, so the median of `drop` and its lower quartile
    # (which ink, table and shadows, all darker, leave alone) are the paper's. Ink must stand
    # well clear of the grain, and be clearly darker than its paper.
    lower, level = np.percentile(drop[::3, ::3], [25, 50])
    grain = level + (level - lower) / 0.6745 * NOISE_MARGIN
    clear = (drop > grain) & (darkness > contrast / 2)
    candidates = darkness[::3, ::3][clear[::3, ::3]]
    if candidates.size == 0:
        return None
    # Strong ink starts at Otsu's split of the clear pixels (pen ink from the paper's faint
    # lines); if nothing there looks like a digit, at the least contrast ink has (a pencil).
    for strong_level in dict.fromkeys((max(contrast, otsu(candidates)), contrast)):
        pieces = _pieces_at(darkness, clear, strong_level)
        if pieces is not None:
            return pieces
    return None


def _pieces_at(darkness: np.ndarray, clear: np.ndarray, strong_level: float) -> np.ndarray | None:
    """The digit's pieces, strong ink being at least `strong_level` dark (see _digit_pieces).

    Weak ink, half as dark, counts where it joins strong ink: a stroke's soft edge, a lighter
    bit. Pieces a pixel or two apart (a pencil's grain) count as one.
    """
    weak = clear & (darkness > strong_level / 2)
    labels, count = ndimage.label(ndimage.binary_dilation(weak, np.ones((3, 3), bool)), np.ones((3, 3), bool))
    labels[~weak] = 0
    if count == 0:
        return None
    strong = np.zeros(count + 1, bool)
    strong[np.unique(labels[weak & (darkness >= strong_level)])] = True
    strong = strong[1:]
    boxes = ndimage.find_objects(labels)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    top, bottom, left, right = (np.array([box[axis].start if start else box[axis].stop for box in boxes])
                                for axis, start in ((0, True), (0, False), (1, True), (1, False)))
    h, w = darkness.shape
    extent = np.maximum(bottom - top, right - left)
    off = np.hypot((top + bottom) / h - 1, (left + right) / w - 1) / np.sqrt(2)   # 0 middle, 1 corner
    # Whatever runs into the photo's edge is the table, a shadow, the paper's edge: or a digit
    # cut off, which cannot be read anyway.
    edge = (top == 0) | (left == 0) | (bottom == h) | (right == w)
    scores = areas * (1.0 - 0.6 * off**2)
    scores[~strong | edge | (extent < MIN_PIECE * max(h, w)) | (extent > MAX_PIECE * min(h, w))] = 0

    def line(i: int) -> bool:
        return _is_line(darkness, np.nonzero(labels[boxes[i]] == i + 1), (top[i], left[i]))

    def drawn(i: int) -> bool:
        """Whether region i looks drawn: not a blot or a corner of table (about as thick as it is
        long), nor a piece of a ruled line, a fold or an edge (straight, and carrying on)."""
        return _thickness(labels[boxes[i]] == i + 1) <= MAX_THICKNESS * extent[i] and not line(i)

    # The digit: the best region that looks drawn, with any others of some size close to it (a
    # stroke the pen skipped: short, so perhaps as thick as long; but not a piece of a line).
    main = next((int(i) for i in np.argsort(-scores)[:8] if scores[i] > 0 and drawn(int(i))), None)
    if main is None:
        return None
    keep = [main]
    box = [top[main], bottom[main], left[main], right[main]]
    reach = 0.35 * extent[main]
    others = np.flatnonzero((scores > 0) & (areas >= 0.02 * areas[main]) & (extent < extent[main]))
    for i in others[np.argsort(-areas[others])]:
        gap = max(box[0] - bottom[i], top[i] - box[1], box[2] - right[i], left[i] - box[3], 0)
        if gap <= reach and not line(int(i)):
            keep.append(int(i))
            box = [min(box[0], top[i]), max(box[1], bottom[i]), min(box[2], left[i]), max(box[3], right[i])]
    pieces = np.isin(labels, np.array(keep) + 1)
    # Strokes are solid; the camera's grain along a ruled line, chained into one region, is specks.
    inside = ndimage.convolve(pieces.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") >= 6
    return pieces if np.mean(inside[pieces]) >= MIN_SOLID else None


def _thickness(mask: np.ndarray) -> float:
    """The thickest part of a region, in pixels: twice its largest distance to the outside."""
    return 2.0 * float(ndimage.distance_transform_edt(np.pad(mask, 1)).max())


def _is_line(darkness: np.ndarray, pixels: tuple[np.ndarray, np.ndarray], corner: tuple[int, int]) -> bool:
    """True for a piece of a line on the paper: straight and thin (a band at most 3 px or a tenth
    of its length wide) and, past its ends (those the photo shows), the same darkness carries on
    in its direction (a ruled line, a fold, the edge of the paper or of a shadow). A "1" may be as
    straight, but it ends in paper.

    `pixels`: the piece's (rows, columns) inside its box, whose top left is `corner`.
    """
    points = np.stack(pixels, axis=1).astype(np.float64) + corner        # (n, 2) row, column
    if len(points) < 3:
        return False
    spread, axes = np.linalg.eigh(np.cov(points.T))
    width = np.sqrt(12 * max(spread[0], 0))         # across: a uniform band's width from its spread
    if width > max(3.0, 0.1 * np.sqrt(12 * spread[1])):
        return False                                 # wide, or it bends: drawn
    along, across = axes[:, 1], axes[:, 0]
    half = np.sqrt(3 * spread[1])                    # half its length
    level = 0.5 * float(np.median(darkness[pixels[0] + corner[0], pixels[1] + corner[1]]))
    carries_on = False
    for side in (1, -1):
        steps = half + np.linspace(0.1, 0.6, 24) * 2 * half           # past the end, up to half its length on
        samples = points.mean(axis=0) + side * steps[:, None] * along  # (24, 2)
        offsets = np.arange(-2, 3)[:, None, None] * across             # a little to either side
        where = np.rint(samples[None] + offsets).astype(int)           # (5, 24, 2)
        inside = ((where >= 0) & (where < darkness.shape)).all(axis=-1).all(axis=0)
        if inside.sum() < 6:
            continue                                 # off the photo: no telling
        seen = darkness[where[:, inside, 0], where[:, inside, 1]].max(axis=0)
        if np.mean(seen >= level) < 0.5:
            return False                             # it ends in paper on this side: drawn
        carries_on = True
    return carries_on


def _cut_out(darkness: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """The digit's ink (its pieces with their soft edges), 0 elsewhere, in its box plus a margin."""
    rows, cols = np.flatnonzero(pieces.any(axis=1)), np.flatnonzero(pieces.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pad = max(4, round(MARGIN * max(bottom - top, right - left)))
    top, left = max(0, top - pad), max(0, left - pad)
    bottom, right = min(darkness.shape[0], bottom + pad), min(darkness.shape[1], right + pad)
    ink = darkness[top:bottom, left:right]
    near = ndimage.binary_dilation(pieces[top:bottom, left:right], iterations=1)
    core = float(np.percentile(ink[pieces[top:bottom, left:right]], 90))
    out = np.zeros((bottom - top + 2, right - left + 2), np.float32)   # a clean 1-px border: background
    out[1:-1, 1:-1] = np.where(near, np.clip(ink / max(core, 1e-3), 0.0, 1.0), 0.0)
    return out


def _grey(image: np.ndarray) -> np.ndarray:
    """The photo as (H, W) float32 grey in [0, 1], longer side at most WORK_SIDE."""
    img = np.asarray(image)
    if not (np.issubdtype(img.dtype, np.integer) or np.issubdtype(img.dtype, np.floating)):
        raise ValueError(f"a photo must be a numeric array, got dtype {img.dtype}")
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim != 2:
        raise ValueError(f"a photo must be (H, W), (H, W, 3) or (H, W, 4), got shape {np.shape(image)}")
    if min(img.shape) < MIN_SIDE:
        raise ValueError(f"a photo must be at least {MIN_SIDE} px a side, got {img.shape[0]}x{img.shape[1]}")
    img = img.astype(np.float32)
    if not np.isfinite(img).all():
        raise ValueError("a photo must not contain NaN or infinite values")
    img = img / 255.0 if np.asarray(image).dtype == np.uint8 or img.max() > 1.0 else img
    if max(img.shape) > WORK_SIDE:
        scale = WORK_SIDE / max(img.shape)
        size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
        img = np.asarray(Image.fromarray(img, "F").resize(size, Image.Resampling.BOX), np.float32)
    return np.clip(img, 0.0, 1.0)
