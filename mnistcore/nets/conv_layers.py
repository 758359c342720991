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

import itertools

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
                  dx: np.ndarray | None = None, room: list[np.ndarray] | None = None) -> None:
    """Gradients of `conv`: dkernel (3, 3, C, F) from dout (2, 2, B, h, w, F); dx (B, H, W, C) when given.

    `room`: work arrays for dx, shaped as `gradient_room` says (allocated here when None).

    dx is a sum of nine products, dout times one kernel position's weights, each shifted by that
    position. With dout's rows laid out as the input's (row, column, image), at the input's row
    length W (zeros past the outputs), every shift is the same for all rows: a block of rows
    further on. So each product adds to one contiguous block of rows: nine long adds instead of
    36 short strided ones. The zero columns cost 20% more multiplications on the second
    convolution; the adds they save cost more. (SciPy's gemm could accumulate in place, but it
    holds the GIL, which stops the other training thread.)
    """
    f = kernel.shape[-1]
    np.matmul(cols.reshape(-1, kernel.size // f).T, dout.reshape(-1, f), out=dkernel.reshape(-1, f))
    if dx is None:
        return
    _, _, b, h, w, _ = dout.shape
    _, height, width, c = dx.shape
    spread, sums, product = room or [np.empty(shape, dx.dtype) for shape in gradient_room(dout.shape, dx.shape)]
    spread[:, 2 * w :] = 0  # outputs pooling drops, and the rest of each row: nothing flows back from them
    np.copyto(spread[:, : 2 * w].reshape(h, 2, w, 2, b, f), dout.transpose(3, 0, 4, 1, 2, 5))
    rows_in, rows_out = spread.reshape(-1, f), sums.reshape(-1, c)
    n = len(rows_in)
    # C-ordered copies of the kernel's transposes, because BLAS is much slower on transposed views
    kernel_t = np.ascontiguousarray(kernel.transpose(0, 1, 3, 2))  # (3, 3, F, C)
    np.matmul(rows_in, kernel_t[0, 0], out=rows_out[:n])  # the first block is written, not added to
    rows_out[n:] = 0
    for di, dj in itertools.islice(np.ndindex(KERNEL, KERNEL), 1, None):
        start = (di * width + dj) * b  # output (r, s) feeds input (r + di, s + dj): di rows and dj columns on
        rows_out[start : start + n] += np.matmul(rows_in, kernel_t[di, dj], out=product)
    np.copyto(dx, sums[:height].transpose(2, 0, 1, 3))


def gradient_room(dout_shape: tuple[int, ...], dx_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes of conv_backward's work arrays for dx: dout spread as (2h, W, B, F), dx's sums as
    (H + 1, W, B, C), and one product (2h * W * B, C).

    The sums have a row more than dx: the last products' rows run up to two columns past the end
    of dx's last row (adding zeros there).
    """
    _, _, b, h, _, f = dout_shape
    _, height, width, c = dx_shape
    return [(2 * h, width, b, f), (height + 1, width, b, c), (2 * h * width * b, c)]


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


def relu_backward(d: np.ndarray, activation: np.ndarray, live: np.ndarray) -> np.ndarray:
    """ReLU's gradient: d (overwritten) kept where the activation is above 0, else 0; `live` is room
    for the mask (bool, shaped like d).

    As a product with the mask: np.copyto(d, 0, where=...) takes 15 times as long here.
    """
    return np.multiply(d, np.greater(activation, 0, out=live), out=d)


def column_sums(d: np.ndarray, out: np.ndarray, ones: np.ndarray) -> np.ndarray:
    """A bias gradient: d (..., F) summed over all but the last axis, into out (F,); `ones` is room
    for one value per row.

    As a product with a row of ones: BLAS sums the rows several times faster than np.sum does.
    """
    ones.fill(1)
    return np.matmul(ones, d.reshape(len(ones), -1), out=out)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (B, 10) logits, in place."""
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits
