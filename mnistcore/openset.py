"""Knowing what is not a digit: a small companion fitted beside every model when it is trained.

A network trained on MNIST answers with a digit for anything, often very sure of it: an S is a 5, a
heart a 0. The companion looks at what the model said (its ten probabilities, how sure, how close its
two best digits), at the ink's shape (loops, pieces, stroke width), at how far the drawing is from
MNIST's own images of each digit (DigitReference) and at which way its edges run where (edge_histograms),
and says how likely the drawing is to be a digit at all. It is a tiny network (164 measures in, 32
hidden units) fitted on drawings the model never trained on: digits of MNIST's test set drawn the way
the canvas draws them, and letters, shapes, scribbles, two-digit numbers and cut-off digits
(nondigits.FIT), and the drawings the lab's visitors said are not digits when training reads them.
The same drawings, split apart, set its refusal threshold, the temperature that calibrates the
model's probabilities, and the probability from which the model's answer is called "sure". All of it
is saved in the model's info (ModelInfo.open_set), so any model, the shipped one or a visitor's,
answers the same way.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import os
import threading
from dataclasses import asdict, astuple, dataclass, fields
from pathlib import Path

import numpy as np
from scipy import ndimage, optimize
from threadpoolctl import threadpool_limits

from .nondigits import FIT, NOT_A_DIGIT, canvas_steps, drawing_count, each_drawing, image_steps
from .paths import DATA_DIR
from .preprocess import Shape

REFUSE_DIGITS = 0.01     # the threshold refuses this share of the fitting digits (they are MNIST's easier half)
SURE_RIGHT = 0.995       # "sure" from the probability above which the fitting digits are right this often
FAIRLY_RIGHT = 0.85      # "fairly sure" where they are right this often
FIT_DIGITS = 4000        # drawings of digits and of non-digits the companion is fitted on
FIT_OTHERS = 4000
HIDDEN = 32
LAB_WEIGHT = 5.0         # a visitor's drawing of what is not a digit counts as much as this many of ours
EDGE_CELLS, EDGE_ANGLES = 4, 8  # edge_histograms: a 4 x 4 grid of cells, 8 directions in each
CACHE_DIR = DATA_DIR / "cache"  # the fitting drawings, made once

FEATURES = ("top logit", "margin", "entropy", "distance", "nearest distance", "distance gap", "holes", "parts",
            "columns", "log pens", "extent", "fill", "log aspect", "across", "thickness", "tilt",
            *(f"distance from {digit}" for digit in range(10)), *(f"log p({digit})" for digit in range(10)),
            *(f"edges {row},{col} at {angle * 180 // EDGE_ANGLES} degrees"
              for row in range(EDGE_CELLS) for col in range(EDGE_CELLS) for angle in range(EDGE_ANGLES)))


def features(shape: Shape, probabilities: np.ndarray, distances: np.ndarray, centred: np.ndarray) -> np.ndarray:
    """(len(FEATURES),) float64 for one drawing: the model's raw (10,) `probabilities`, the ink's
    `shape`, the drawing's (10,) `distances` from MNIST's digits (DigitReference.distances) and
    its (28, 28) `centred` image in [0, 1] (for its edge_histograms)."""
    return features_of([shape], np.reshape(probabilities, (1, 10)), np.reshape(distances, (1, 10)),
                       np.reshape(centred, (1, 28, 28)))[0]


def features_of(shapes, probabilities: np.ndarray, distances: np.ndarray, centred: np.ndarray) -> np.ndarray:
    """(n, len(FEATURES)) features of n drawings at once: n shapes, (n, 10) probabilities and
    distances, (n, 28, 28) centred images; row by row the same as `features`."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    ranked = np.sort(p, axis=1)
    first, second = ranked[:, -1], ranked[:, -2]
    d = np.asarray(distances, np.float64)
    near = d[np.arange(len(d)), np.argmax(p, axis=1)]
    s = np.array([(sh.pen, sh.holes, sh.parts, sh.columns, sh.pens, sh.extent, sh.fill, sh.aspect, sh.across,
                   sh.thickness, sh.tilt) for sh in shapes], np.float64).reshape(-1, 11)
    pen = np.maximum(s[:, 0], 1.0)
    measures = np.column_stack([
        np.clip(np.log(first / np.maximum(1 - first, 1e-12)), -12, 12), np.clip(np.log(first / second), 0, 20),
        -(p * np.log(p)).sum(axis=1), near, d.min(axis=1), near - d.min(axis=1), np.minimum(s[:, 1], 4),
        np.minimum(s[:, 2], 4), s[:, 3], np.log(s[:, 4]), s[:, 5], s[:, 6], np.log(np.maximum(s[:, 7], 1e-3)),
        s[:, 8] / pen, s[:, 9] / pen, s[:, 10] / 90])
    return np.hstack([measures, d, np.log(p), edge_histograms(centred)])


def edge_histograms(centred: np.ndarray) -> np.ndarray:
    """(n, EDGE_CELLS**2 * EDGE_ANGLES): for (n, 28, 28) images, how much edge runs in each direction
    in each cell of a grid (square-rooted): an S and a 5 share their ink's place, not its turns."""
    x = np.asarray(centred, np.float32).reshape(-1, 28, 28)
    # Sobel within each image (ndimage.sobel would also smooth across the images of the batch).
    dy = ndimage.correlate1d(ndimage.correlate1d(x, [-1, 0, 1], axis=1), [1, 2, 1], axis=2)
    dx = ndimage.correlate1d(ndimage.correlate1d(x, [-1, 0, 1], axis=2), [1, 2, 1], axis=1)
    angle = np.minimum((np.mod(np.arctan2(dy, dx), np.pi) * (EDGE_ANGLES / np.pi)).astype(np.int64), EDGE_ANGLES - 1)
    cell = (np.arange(28) // (28 // EDGE_CELLS)).clip(max=EDGE_CELLS - 1)
    where = (cell[:, None] * EDGE_CELLS + cell[None, :]) * EDGE_ANGLES  # (28, 28): each pixel's cell
    size = EDGE_CELLS * EDGE_CELLS * EDGE_ANGLES
    slot = (np.arange(len(x))[:, None, None] * size + where + angle).ravel()  # one bin per image, cell and angle
    cells = np.bincount(slot, weights=np.hypot(dx, dy).ravel(), minlength=len(x) * size)
    return np.sqrt(cells.reshape(len(x), -1))


@dataclass(frozen=True)
class OpenSet:
    """A model's companion, as saved in its info: how likely a drawing is a digit, and its words."""

    weights: str           # base64 of float16: the features' means and scales, the hidden layer, the output
    threshold: float       # a drawing less likely than this to be a digit is refused
    temperature: float     # calibrates the model's probabilities on drawn digits
    sure: float            # a calibrated probability from which the answer is "sure" ...
    fairly_sure: float     # ... and from which "fairly sure"; below it a guess
    fitted_on: dict        # what it was fitted on and how it did there (a record for people)

    SIZE = 2 * len(FEATURES) + (len(FEATURES) + 1) * HIDDEN + HIDDEN + 1

    @staticmethod
    def pack(*arrays: np.ndarray) -> str:
        """Arrays as one base64 text of float16 (a model file's info must stay small)."""
        return base64.b64encode(np.concatenate([np.ravel(a) for a in arrays]).astype("<f2").tobytes()).decode()

    @functools.cached_property
    def _parts(self) -> tuple[np.ndarray, ...]:
        w = np.frombuffer(base64.b64decode(self.weights), "<f2").astype(np.float64)
        n = len(FEATURES)
        mean, scale, rest = w[:n], w[n: 2 * n], w[2 * n:]
        hidden = rest[: (n + 1) * HIDDEN]
        return mean, scale, hidden[: n * HIDDEN].reshape(n, HIDDEN), hidden[n * HIDDEN:], rest[(n + 1) * HIDDEN:]

    def digit_chance(self, shape: Shape, probabilities: np.ndarray, distances: np.ndarray,
                     centred: np.ndarray) -> float:
        """How likely the drawing is a digit at all, 0-1 (refuse below `threshold`); see features."""
        return float(self._chances(features(shape, probabilities, distances, centred)[None])[0])

    def _chances(self, x: np.ndarray) -> np.ndarray:
        mean, scale, w1, b1, out = self._parts
        h = np.tanh(((x - mean) / np.maximum(scale, 1e-3)) @ w1 + b1)
        return 1 / (1 + np.exp(-np.clip(h @ out[:HIDDEN] + out[HIDDEN], -50, 50)))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> OpenSet | None:
        """The OpenSet saved in a model's info, or None when there is none (older models) or it is damaged."""
        if not isinstance(data, dict):
            return None
        try:
            found = cls(**data)
            if len(base64.b64decode(found.weights, validate=True)) != 2 * cls.SIZE:
                return None
            return found
        except (TypeError, ValueError):
            return None


class DigitReference:
    """What MNIST's digits look like, digit by digit: how far an image is from all of them.

    For each digit, the mean and the main directions of variation (principal components) of
    `per_digit` training images, slightly blurred so that stroke width matters less than shape.
    An image's distance is how much of it those directions cannot explain, relative to its own
    size (0 = exactly like some mix of them; 1 = nothing in common). Real digits drawn on the
    canvas are typically 0.1 from the digit the model reads, 99.5% of them under 0.27; letters,
    signs and scribbles typically 0.23. Build it once (a second or two) and share it: reading it
    is thread-safe.
    """

    BLUR = 1.0  # px, the Gaussian blur applied to every image first

    def __init__(self, images: np.ndarray, labels: np.ndarray, per_digit: int = 1000, components: int = 40):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise ValueError(f"expected (n, 28, 28) images and n labels, got {images.shape} and {labels.shape}")
        self.means, self.directions = [], []  # per digit: (784,) and (components, 784)
        with threadpool_limits(limits=1, user_api="blas"):  # 784 x 784: one thread is fastest on a busy machine
            for digit in range(10):
                chosen = images[labels == digit][:per_digit]
                if len(chosen) <= components:
                    raise ValueError(f"need more than {components} images of each digit, got {len(chosen)} of {digit}")
                x = self._prepared(chosen)
                mean = x.mean(axis=0)
                # The main directions: the covariance's eigenvectors with the largest eigenvalues.
                _, vectors = np.linalg.eigh((x - mean).T @ (x - mean))  # eigenvalues ascending
                self.means.append(mean)
                self.directions.append(vectors[:, ::-1][:, :components].T.copy())
        # For distances_of: the means and directions side by side, and their parts that do not depend on the image.
        self._stacked = np.vstack([np.stack(self.means), *self.directions]).astype(np.float32).T
        self._mean_parts = np.array([v @ m for m, v in zip(self.means, self.directions)])  # (10, components)
        self._mean_squares = np.array([m @ m for m in self.means])

    def _prepared(self, images: np.ndarray) -> np.ndarray:
        """(n, 784) float64: each image scaled to [0, 1], blurred and scaled to unit length."""
        x = np.asarray(images, np.float64).reshape(-1, 28, 28)
        if x.max(initial=0.0) > 1.0:
            x = x / 255.0
        x = ndimage.gaussian_filter(x, (0, self.BLUR, self.BLUR)).reshape(len(x), 784)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)

    def distance(self, image: np.ndarray, digit: int) -> float:
        """How far a (28, 28) image is from MNIST's images of `digit`: 0 to about 1."""
        if not 0 <= digit <= 9:
            raise ValueError(f"digit must be 0-9, got {digit!r}")
        x = self._prepared(image)[0] - self.means[digit]
        v = self.directions[digit]
        return float(np.linalg.norm(x - (x @ v.T) @ v))

    def distances(self, image: np.ndarray) -> np.ndarray:
        """(10,) how far a (28, 28) image is from MNIST's images of each digit."""
        return self.distances_of(np.asarray(image).reshape(1, 28, 28))[0]

    def distances_of(self, images: np.ndarray) -> np.ndarray:
        """(n, 10) how far each of (n, 28, 28) images is from MNIST's images of each digit."""
        # |d|^2 - |V d|^2 with d = x - mean (V's rows are orthonormal): one product for all ten digits.
        x = self._prepared(images)
        products = (x.astype(np.float32) @ self._stacked).astype(np.float64)
        along = products[:, 10:].reshape(len(x), 10, -1) - self._mean_parts
        squared = (x * x).sum(axis=1)[:, None] - 2 * products[:, :10] + self._mean_squares
        return np.sqrt(np.maximum(squared - (along * along).sum(axis=2), 0.0))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that makes (n, 10) `probabilities` best predict `labels` (least log loss).

    Searched over 0.5 to 10 on a log scale, finely enough (0.3% steps) for two decimals.
    """
    p = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels)
    if p.ndim != 2 or p.shape[1] != 10 or len(p) != len(labels) or len(p) == 0:
        raise ValueError(f"expected (n, 10) probabilities and n labels, got {p.shape} and {labels.shape}")
    logits = np.log(np.clip(p, 1e-30, None))
    grid = np.exp(np.linspace(np.log(0.5), np.log(10.0), 1000))

    @functools.cache
    def loss(i: int) -> float:
        z = logits / grid[i]
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), labels]))

    # The log loss has one minimum in the temperature: halve the grid towards it (about 20 losses, not 1000).
    low, high = 0, len(grid) - 1
    while high - low > 2:
        middle = (low + high) // 2
        if loss(middle) <= loss(middle + 1):
            high = middle + 1
        else:
            low = middle + 1
    return float(grid[min(range(low, high + 1), key=loss)])


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(n, 10) probabilities softened by `temperature`: softmax(log(p) / temperature), row by row."""
    z = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, None)) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------- fitting

_lock = threading.Lock()
_made: dict = {}


def _key(images: np.ndarray) -> tuple:
    """A fingerprint of `images`, the same in every process (Python's own hash of bytes is not)."""
    sample = np.ascontiguousarray(images[:: max(1, len(images) // 200)]).tobytes()
    return (images.shape, hashlib.blake2b(sample, digest_size=16).hexdigest())


def reference_for(images: np.ndarray, labels: np.ndarray) -> DigitReference:
    """The DigitReference of training images, built once per process for the same images."""
    key = ("reference", _key(images))
    with _lock:
        if key not in _made:
            smallest = int(np.bincount(np.asarray(labels, np.int64), minlength=10).min())
            _made[key] = DigitReference(images, labels, components=max(1, min(40, smallest - 1)))
        return _made[key]


def _cache_path(key: tuple) -> Path:
    name = hashlib.blake2b(repr((key, FIT)).encode(), digest_size=8).hexdigest()
    return CACHE_DIR / f"open-set-drawings-{name}.npz"


def prepare_fitting_drawings(images: np.ndarray, labels: np.ndarray, digits: int = FIT_DIGITS,
                             others: int = FIT_OTHERS, report=None) -> bool:
    """Make and keep on disk the drawings fit_open_set(unseen=(images, labels)) will fit on, so that
    the first training run need not wait for them; False when they were there already.
    `report(text)` hears how far the drawing has got."""
    others = min(others, len(images))
    if _cache_path(("drawings", _key(images), digits, others)).exists():
        return False
    with _lock:
        _fitting_drawings(images, labels, digits, others, report)
    return True


def _fitting_drawings(images: np.ndarray, labels: np.ndarray, digits: int, others: int, report=None):
    """The FIT drawings' (centred images, shapes, labels), those preprocessing does not find blank.

    Drawing them takes minutes for 8,000, so they are made once (`python -m mnistcore fetch` does it
    ahead of time) and kept on disk in the data folder (git-ignored): they depend on nothing but these arguments.
    """
    key = ("drawings", _key(images), digits, others)
    if key in _made:
        return _made[key]
    path = _cache_path(key)
    try:
        with np.load(path) as kept:
            made = kept["centred"], tuple(Shape(*_shape_row(row)) for row in kept["shapes"]), kept["labels"]
    except (OSError, KeyError, ValueError, TypeError):
        centred, shapes, out = [], [], []
        # Small products, thousands of them: with more BLAS threads than idle cores they mostly wait.
        with threadpool_limits(limits=1, user_api="blas"):
            total = drawing_count(images, digits, others)
            for done, drawing in enumerate(each_drawing(images, labels, FIT, digits, others), 1):
                steps = canvas_steps(drawing)
                if steps is not None:
                    centred.append(steps.centred)
                    shapes.append(steps.shape)
                    out.append(drawing.label)
                if report is not None and (done % 500 == 0 or done == total):
                    report(f"open-set fitting drawings: {done}/{total}")
        made = np.array(centred, np.float32), tuple(shapes), np.array(out)
        try:
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            part = path.with_suffix(f".{os.getpid()}.part.npz")
            np.savez_compressed(part, centred=made[0], shapes=np.array([astuple(s) for s in shapes], np.float64),
                                labels=made[2])
            os.replace(part, path)
        except OSError:  # a read-only folder: made again next time
            pass
    _made[key] = made
    return made


def _shape_row(row: np.ndarray) -> list:
    """A Shape's fields from a row of floats, the whole-number ones as int again."""
    return [int(v) if f.type in ("int", int) else float(v) for f, v in zip(fields(Shape), row)]


def fit_open_set(model, train: tuple[np.ndarray, np.ndarray], unseen: tuple[np.ndarray, np.ndarray],
                 digits: int = FIT_DIGITS, others: int = FIT_OTHERS, seed: int = 0,
                 lab_others: np.ndarray | None = None) -> OpenSet:
    """Fit a model's companion: `train` = the (images, labels) it trained on (for the reference),
    `unseen` = MNIST images it never trained on, which are drawn as the canvas draws them;
    `lab_others` = (n, 28, 28) uint8 drawings the lab's visitors said are not digits, learned from too."""
    images, labels = unseen
    others = min(others, len(images))  # a small test set makes a small fitting set
    with _lock:
        centred, shapes, drawn = _fitting_drawings(images, labels, digits, others)
    lab = [s for s in map(image_steps, lab_others if lab_others is not None else ()) if s is not None]
    if lab:
        centred = np.concatenate([centred, np.array([s.centred for s in lab], np.float32)])
        shapes, drawn = shapes + tuple(s.shape for s in lab), np.r_[drawn, np.full(len(lab), NOT_A_DIGIT)]
    reference = reference_for(*train)
    with threadpool_limits(limits=1, user_api="blas"):
        probabilities = np.asarray(model.predict_proba(centred), np.float64)
        distances = reference.distances_of(centred)
    x = features_of(shapes, probabilities, distances, centred)
    is_digit = (drawn >= 0).astype(np.float64)
    if is_digit.min() == is_digit.max():
        raise ValueError(f"need drawings of digits and of non-digits to fit on, got {len(drawn)} of one kind")
    rng = np.random.default_rng(seed)
    head = rng.uniform(size=len(x)) < 0.65   # the network learns on these, the threshold is set on the rest
    from_lab = np.arange(len(x)) >= len(x) - len(lab)
    head |= from_lab  # too few to spare: all learned from
    mean, scale = x[head].mean(axis=0), np.maximum(x[head].std(axis=0), 1e-3)
    hidden, out = _train_head((x[head] - mean) / scale, is_digit[head], rng,
                              weights=np.where(from_lab[head], LAB_WEIGHT, 1.0))
    weights = OpenSet.pack(mean, scale, hidden, out)
    chances = OpenSet(weights, 0.5, 1.0, 0.9, 0.6, {})._chances(x)  # as saved, float16 and all
    held_digits = chances[~head & (drawn >= 0)]
    threshold = float(np.quantile(held_digits, REFUSE_DIGITS)) if len(held_digits) else 0.5
    accepted = (drawn >= 0) & (chances >= threshold)
    temperature = round(fit_temperature(probabilities[accepted], drawn[accepted]), 3) if accepted.any() else 1.0
    calibrated = scaled(probabilities[accepted], temperature)
    sure, fairly = _word_thresholds(calibrated.max(axis=1), calibrated.argmax(axis=1) == drawn[accepted])
    others_held = ~head & (drawn < 0)
    record = dict(style=FIT.name, digits=int((drawn >= 0).sum()), others=int((drawn < 0).sum() - len(lab)),
                  lab_others=len(lab),
                  digits_refused=round(float(np.mean(held_digits < threshold)), 4) if len(held_digits) else None,
                  others_accepted=round(float(np.mean(chances[others_held] >= threshold)), 4)
                  if others_held.any() else None)
    return OpenSet(weights, round(threshold, 6), temperature, sure, fairly, record)


def _train_head(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, steps: int = 300, l2: float = 3e-3,
                weights: np.ndarray | None = None):
    """A tanh network with HIDDEN units fitted on the whole set at once, classes weighted equally
    (and each drawing by its `weights`, 1 when None): the weighted log loss plus `l2` on the weights,
    minimised by L-BFGS (at most `steps` iterations) with its exact gradient, which gets as far in a
    few hundred steps as Adam in thousands."""
    n = x.shape[1]
    shapes = ((n, HIDDEN), (HIDDEN,), (HIDDEN,), (1,))
    start = np.r_[rng.normal(0, 1 / np.sqrt(n), n * HIDDEN), np.zeros(HIDDEN),
                  rng.normal(0, 1 / np.sqrt(HIDDEN), HIDDEN), 0.0]
    each = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
    share = (each * y).sum() / each.sum()  # of the weight on digits
    weight = each * np.where(y > 0, 0.5 / max(share, 1e-9), 0.5 / max(1 - share, 1e-9)) / each.sum()
    weight = weight.astype(np.float32)
    x, y = x.astype(np.float32), y.astype(np.float32)  # float32 halves the time; L-BFGS keeps its own in float64

    def loss_and_gradient(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w1, b1, w2, b2 = _split(flat.astype(np.float32), shapes)
        h = np.tanh(x @ w1 + b1)
        z = np.clip(h @ w2 + b2[0], -50, 50)
        q = 1 / (1 + np.exp(-z))
        loss = float(weight @ (np.logaddexp(0, z) - y * z)) + l2 / 2 * float(w1.ravel() @ w1.ravel() + w2 @ w2)
        g_out = (q - y) * weight
        g_h = np.outer(g_out, w2) * (1 - h ** 2)
        gradient = np.r_[(x.T @ g_h + l2 * w1).ravel(), g_h.sum(axis=0), h.T @ g_out + l2 * w2, g_out.sum()]
        return loss, gradient.astype(np.float64)

    with threadpool_limits(limits=1, user_api="blas"):  # small products: threads only wait for each other
        found = optimize.minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B",
                                  options=dict(maxiter=steps, maxfun=2 * steps))
    w1, b1, w2, b2 = _split(found.x, shapes)
    return np.r_[w1.ravel(), b1], np.r_[w2, b2]


def _split(flat: np.ndarray, shapes) -> list[np.ndarray]:
    """A flat vector cut into arrays of `shapes`, in order."""
    out, at = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[at: at + size].reshape(shape))
        at += size
    return out


def _word_thresholds(confidence: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """(sure, fairly_sure): the lowest calibrated probabilities from which the answers were right
    SURE_RIGHT and FAIRLY_RIGHT of the time."""
    order = np.argsort(confidence)[::-1]
    c, r = confidence[order], right[order].astype(np.float64)
    rate = np.cumsum(r) / np.arange(1, len(r) + 1)  # accuracy of the answers at least this sure
    ok = np.flatnonzero(rate >= SURE_RIGHT)
    sure = float(c[ok[-1]]) if len(ok) and ok[-1] >= 20 else 0.999
    below = c < sure
    c2, r2 = c[below], r[below]
    rate2 = np.cumsum(r2) / np.arange(1, len(r2) + 1)
    ok2 = np.flatnonzero(rate2 >= FAIRLY_RIGHT)
    fairly = float(c2[ok2[-1]]) if len(ok2) else sure
    return round(max(sure, 0.5), 4), round(min(max(fairly, 0.4), max(sure, 0.5)), 4)
