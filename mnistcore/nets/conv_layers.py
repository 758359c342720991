"""The convnet's layer maths in NumPy: 3x3 convolution, 2x2 max-pooling, softmax, and their gradients.

Plain functions on arrays of any float dtype (the gradient tests run them in float64). Batches are
NHWC, (B, height, width, channels): a 3x3 window of every channel is 9 contiguous runs of memory,
so a convolution is one matrix product of the unrolled windows ("im2col") with the kernel.

Every 3x3 convolution here is followed by 2x2 max-pooling, so its outputs are computed grouped by
their place in the pooling window: out (2, 2, B, h, w, F) holds at [pi, pj, b, i, j] the output at
row 2i + pi, column 2j + pj. Pooling and its gradient then touch contiguous blocks, and the outputs
that pooling floors away (conv2's 11th row and column) are never computed.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

KERNEL = 3  # both convolutions are 3x3, stride 1, no padding ("valid")


def pooled_side(side: int) -> int:
    """Rows (or columns) after a 3x3 convolution and 2x2 pooling: 28 -> 13, 13 -> 5."""
    return (side - KERNEL + 1) // 2


def unroll(x: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """im2col: x (B, H, W, C) -> cols (2, 2, B, h, w, 3, 3, C), the 3x3 window under each output."""
    b, _, _, c = x.shape
    h, w = cols.shape[3:5]
    if c == 1:  # runs of 3 values are too short for one strided copy: 36 block copies instead
        for pi, pj, di, dj in np.ndindex(2, 2, KERNEL, KERNEL):
            top, left = pi + di, pj + dj
            cols[pi, pj, :, :, :, di, dj, :] = x[:, top : top + 2 * h : 2, left : left + 2 * w : 2, :]
        return cols
    # One copy from a strided view: a window row (3 columns x C channels) is contiguous in x.
    sb, sh, sw, sc = x.strides
    windows = as_strided(x, (2, 2, b, h, w, KERNEL, KERNEL * c), (sh, sw, sb, 2 * sh, 2 * sw, sh, sc))
    np.copyto(cols.reshape(windows.shape), windows)
    return cols


def roll_back(dcols: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """col2im: window gradients (3, 3, 2, 2, B, h, w, C) summed into dx (B, H, W, C) (overwritten).

    `dcols` is kernel position first (conv_backward makes it so, one product per position). The
    sums go into dx split by row and column parity, (2, 2, B, H/2, W/2, C): there, the outputs
    under one kernel position are adjacent columns, so each add runs over contiguous memory;
    one copy then interleaves the parities.
    """
    h, w = dcols.shape[5:7]
    b, height, width, c = dx.shape
    split = np.zeros((2, 2, b, (height + 1) // 2, (width + 1) // 2, c), dx.dtype)
    for di in range(KERNEL):
        for dj in range(KERNEL):
            for pi in range(2):
                for pj in range(2):
                    top, left = pi + di, pj + dj  # output (i, j) of this group reads row 2i + top, column 2j + left
                    rows, cols = slice(top // 2, top // 2 + h), slice(left // 2, left // 2 + w)
                    split[top % 2, left % 2, :, rows, cols] += dcols[di, dj, pi, pj]
    plain = split.transpose(2, 3, 0, 4, 1, 5).reshape(b, split.shape[3] * 2, split.shape[4] * 2, c)
    dx[...] = plain[:, :height, :width]
    return dx


def conv(x: np.ndarray, kernel: np.ndarray, cols: np.ndarray, out: np.ndarray) -> np.ndarray:
    """3x3 convolution without bias, the outputs that 2x2 pooling keeps, grouped for it.

    x (B, H, W, C), kernel (3, 3, C, F) -> out (2, 2, B, h, w, F), h = pooled_side(H).
    `cols` (2, 2, B, h, w, 3, 3, C) receives the unrolled windows (the backward pass needs them).
    """
    f = kernel.shape[-1]
    unroll(x, cols)
    np.matmul(cols.reshape(-1, kernel.size // f), kernel.reshape(-1, f), out=out.reshape(-1, f))
    return out


def conv_backward(cols: np.ndarray, kernel: np.ndarray, dout: np.ndarray, dkernel: np.ndarray,
                  dcols: np.ndarray | None = None, dx: np.ndarray | None = None) -> None:
    """Gradients of `conv`: dkernel (3, 3, C, F) from dout (2, 2, B, h, w, F); dx (B, H, W, C) when given.

    `dcols` (3, 3, 2, 2, B, h, w, C) is room for the windows' gradients (needed with dx).
    """
    f = kernel.shape[-1]
    flat_cols = cols.reshape(-1, kernel.size // f)
    flat_dout = dout.reshape(-1, f)
    np.matmul(flat_cols.T, flat_dout, out=dkernel.reshape(-1, f))
    if dx is not None:
        # One product per kernel position, each into a contiguous block of dcols (3, 3, 2, 2, B,
        # h, w, C), which is what makes roll_back's adds contiguous. C-ordered copies of the
        # kernel's transposes, because BLAS is much slower on transposed views.
        kernel_t = np.ascontiguousarray(kernel.transpose(0, 1, 3, 2))  # (3, 3, F, C)
        for di in range(KERNEL):
            for dj in range(KERNEL):
                np.matmul(flat_dout, kernel_t[di, dj], out=dcols[di, dj].reshape(len(flat_dout), -1))
        roll_back(dcols, dx)


def pool(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """2x2 max-pooling: z (2, 2, B, h, w, F) from `conv` -> out (B, h, w, F)."""
    np.maximum(z[0, 0], z[0, 1], out=out)
    np.maximum(out, z[1, 0], out=out)
    np.maximum(out, z[1, 1], out=out)
    return out


def pool_backward(z: np.ndarray, pooled: np.ndarray, dpooled: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """Gradient of `pool`: each window's gradient goes to its maximum; dz like z (overwritten).

    Where a window holds its maximum twice (a thick stroke saturates many pixels at 1.0, so equal
    windows are common) only the first in reading order takes it, as in TensorFlow. dz[1, 1]
    holds what is not taken yet; what is left after the first three is the last one's.
    """
    hit = np.empty(pooled.shape, bool)
    rest = dz[1, 1]
    for k, (pi, pj) in enumerate(((0, 0), (0, 1), (1, 0))):
        np.equal(z[pi, pj], pooled, out=hit)
        np.multiply(dpooled if k == 0 else rest, hit, out=dz[pi, pj])
        np.subtract(dpooled if k == 0 else rest, dz[pi, pj], out=rest)  # exact: x - x or x - 0
    return dz


def interleave(z: np.ndarray) -> np.ndarray:
    """`conv`'s (2, 2, B, h, w, F) outputs in plain order: (B, 2h, 2w, F)."""
    _, _, b, h, w, f = z.shape
    return z.transpose(2, 3, 0, 4, 1, 5).reshape(b, 2 * h, 2 * w, f)


def conv_all(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Every output of a 3x3 convolution without bias, plainly: (B, H, W, C) -> (B, H - 2, W - 2, F).

    For showing feature maps (conv2's last row and column too), not for training.
    """
    b, height, width, _ = x.shape
    out = np.zeros((b, height - 2, width - 2, kernel.shape[-1]), x.dtype)
    for di in range(KERNEL):
        for dj in range(KERNEL):
            out += x[:, di : di + height - 2, dj : dj + width - 2, :] @ kernel[di, dj]
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (B, 10) logits, in place."""
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def by_kernel(cols_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of conv_backward's dcols for unrolled windows `cols_shape` (2, 2, B, h, w, 3, 3, C)."""
    return cols_shape[5:7] + cols_shape[:5] + cols_shape[7:]
