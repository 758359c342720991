"""The training images nearest a drawing, pixel by pixel, from a small index with exact answers.

A plain search needs a float copy of all 60,000 images and a 60,000 x 784 product per question.
`NearestImages` keeps far less:

- a PCA basis of `components` directions (784 x 64 float32) and each image's coordinates in it
  (60,000 x 64 float32: 15 MB);
- each image's distance from that subspace (its residual norm; 60,000 float32);
- the uint8 images themselves, not copied: the caller's (read-only) MNIST array.

The distance in the subspace, plus the difference of the residual norms, is a lower bound on the
true distance (the residuals are orthogonal to the subspace; |r_a - r_b| >= | |r_a| - |r_b| |).
So: bound every image (a 60,000 x 64 product), compute the true distance of the `candidates`
with the lowest bounds from the uint8 pixels, and then of any image whose bound is
still below the k-th best true distance. The answer is exactly the brute-force answer, for any
query; the PCA only decides how few exact distances that takes (usually just the first batch).
"""
from __future__ import annotations

import numpy as np

from ..nets.base import as_batch

COMPONENTS = 64     # PCA directions: MNIST's distances are mostly in the first few dozen
CANDIDATES = 128    # true distances computed first; more only if a bound says they could matter
CHUNK = 2_000       # images turned into floats at a time while building (6 MB): larger chunks
                    # raise the server's peak memory well above what the index keeps
SAMPLE = 10_000     # images the PCA is learned from: any orthonormal basis keeps the bounds true
SLACK = 1e-2        # on squared distances (nearest ones are 10-50): more than float32 rounding in the bounds


class NearestImages:
    """Finds the training images closest to a drawing (Euclidean distance on pixels in [0, 1])."""

    def __init__(self, images: np.ndarray, components: int = COMPONENTS, candidates: int = CANDIDATES):
        """`images`: (n, 28, 28) or (n, 784) uint8, kept by reference (not copied): do not change it."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim not in (2, 3) or images[0].size != 784:
            raise ValueError(f"images must be uint8 (n, 28, 28) or (n, 784), got {images.dtype} {images.shape}")
        self.images = images.reshape(len(images), 784)                   # (n, 784) uint8, a view
        self.candidates = max(1, int(candidates))
        self.mean_, self.basis_ = _pca(self.images, components)          # (784,), (784, c) float32
        self.codes_ = np.empty((len(images), self.basis_.shape[1]), np.float32)  # (n, c)
        self.residuals_ = np.empty(len(images), np.float32)                      # (n,) |x - projection|
        for start in range(0, len(images), CHUNK):
            x = as_batch(self.images[start:start + CHUNK]) - self.mean_
            codes = x @ self.basis_
            self.codes_[start:start + CHUNK] = codes
            squared = np.einsum("ij,ij->i", x, x) - np.einsum("ij,ij->i", codes, codes)
            self.residuals_[start:start + CHUNK] = np.sqrt(np.maximum(squared, 0.0))
        self.code_norms_ = np.einsum("ij,ij->i", self.codes_, self.codes_)   # (n,) |code|^2, once

    @property
    def nbytes(self) -> int:
        """Memory the index adds to the images it was given."""
        return sum(a.nbytes for a in (self.mean_, self.basis_, self.codes_, self.residuals_, self.code_norms_))

    def nearest(self, image: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the k nearest images, nearest first, and their distances (floats in [0, 28])."""
        query = as_batch(image)[0].astype(np.float64)                    # (784,) in [0, 1]
        k = min(int(k), len(self.images))
        centred = (query - self.mean_).astype(np.float32)
        code = centred @ self.basis_                                      # (c,)
        residual = np.sqrt(max(float(centred @ centred - code @ code), 0.0))
        # Lower bounds on the squared distances: |code - codes|^2 + (residual - residuals)^2.
        # The product reads all the codes (15 MB): memory, not arithmetic, sets its time. (The
        # server keeps BLAS to one thread, so it does not spread this over both cores either.)
        bounds = self.codes_ @ (-2.0 * code)
        bounds += self.code_norms_
        bounds += float(code @ code)
        bounds += np.square(self.residuals_ - residual)
        first = np.argpartition(bounds, min(max(self.candidates, k), len(bounds) - 1))[: max(self.candidates, k)]
        exact = self._squared(first, query)
        # Any image whose bound is below the k-th best true distance could still be nearer: check
        # them all. The k-th best only falls after that, so one round settles it.
        kth = np.partition(exact, k - 1)[k - 1]
        more = np.setdiff1d(np.flatnonzero(bounds <= kth + SLACK), first, assume_unique=True)
        if len(more):
            first, exact = np.concatenate([first, more]), np.concatenate([exact, self._squared(more, query)])
        best = np.lexsort((first, exact))[:k]                             # ties: the lower index first
        return first[best], np.sqrt(exact[best])

    def _squared(self, indices: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Exact squared distances of the images at `indices` from `query`, in float64."""
        difference = self.images[indices].astype(np.float64) * (1 / 255) - query
        return np.einsum("ij,ij->i", difference, difference)


def _pca(images: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (784,) and the top `components` principal directions (784, components), float32, of
    SAMPLE images spread over the set (a float copy of 10,000 images, never of all of them)."""
    images = images[:: max(1, len(images) // SAMPLE)][:SAMPLE]
    n = len(images)
    total = np.zeros(784, np.float64)
    gram = np.zeros((784, 784), np.float64)
    for start in range(0, n, CHUNK):
        x = as_batch(images[start:start + CHUNK])
        total += x.sum(axis=0, dtype=np.float64)
        gram += (x.T @ x).astype(np.float64)
    mean = total / n
    covariance = gram / n - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(covariance)                       # ascending
    basis = vectors[:, ::-1][:, : min(components, 784)]
    return mean.astype(np.float32), np.ascontiguousarray(basis, dtype=np.float32)
