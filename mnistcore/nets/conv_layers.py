"""The convnet's layer maths in NumPy: 3x3 convolution, 2x2 max-pooling, softmax, and their gradients.

Plain functions on arrays of any float dtype (the gradient tests run them in float64). Activations
are laid out (height, width, B, channels): image and channel innermost, so a row, a column or a
pixel of the whole batch is one long contiguous run, which is what Winograd's transforms
(`winograd`, the second convolution) and the im2col copies here need to run at memory speed.

Every 3x3 convolution here is followed by 2x2 max-pooling, so its outputs are computed grouped by
their place in the pooling window: out (2, 2, h, w, B, F) holds at [pi, pj, i, j] the output at
row 2i + pi, column 2j + pj. Pooling and its gradient then touch contiguous blocks, and the outputs
that pooling floors away are never computed.
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
    """im2col, windows as columns: x (H, W, B, C) -> cols (3, 3, C, 2, 2, h, w, B), at [di, dj, c] the
    pixel that kernel position (di, dj) of channel c sees, under every output.

    One copy from a strided view of x, whose innermost run, the batch, is contiguous in both: 3.5
    times as fast as windows as rows (..., 3, 3, C), whose runs are 3 values long.
    """
    sh, sw, sb, sc = x.strides
    np.copyto(cols, as_strided(x, cols.shape, (sh, sw, sc, sh, sw, 2 * sh, 2 * sw, sb)))
    return cols


def conv(x: np.ndarray, kernel: np.ndarray, cols: np.ndarray, out: np.ndarray) -> np.ndarray:
    """3x3 convolution without bias, the outputs that 2x2 pooling keeps, grouped for it.

    x (H, W, B, C), kernel (3, 3, C, F) -> out (2, 2, h, w, B, F), h = pooled_side(H).
    `cols` (3, 3, C, 2, 2, h, w, B) receives the unrolled windows (the backward pass needs them).
    """
    f = kernel.shape[-1]
    unroll(x, cols)
    np.matmul(cols.reshape(kernel.size // f, -1).T, kernel.reshape(-1, f), out=out.reshape(-1, f))
    return out


def conv_backward(cols: np.ndarray, kernel: np.ndarray, dout: np.ndarray, dkernel: np.ndarray,
                  dx: np.ndarray | None = None, room: list[np.ndarray] | None = None) -> None:
    """Gradients of `conv`: dkernel (3, 3, C, F) from dout (2, 2, h, w, B, F); dx (H, W, B, C) when given.

    `room`: work arrays for dx, shaped as `gradient_room` says (allocated here when None).

    dx is a sum of nine products, dout times one kernel position's weights, each shifted by that
    position. With dout's rows laid out as the input's (row, column, image), at the input's row
    length W (zeros past the outputs), every shift is the same for all rows: a block of rows
    further on. So each product adds to one contiguous block of rows: nine long adds instead of
    36 short strided ones.
    """
    f = kernel.shape[-1]
    np.matmul(cols.reshape(kernel.size // f, -1), dout.reshape(-1, f), out=dkernel.reshape(-1, f))
    if dx is None:
        return
    _, _, h, w, b, _ = dout.shape
    height, width, _, c = dx.shape
    spread, sums, product = room or [np.empty(shape, dx.dtype) for shape in gradient_room(dout.shape, dx.shape)]
    spread[:, 2 * w :] = 0  # outputs pooling drops, and the rest of each row: nothing flows back from them
    np.copyto(spread[:, : 2 * w].reshape(h, 2, w, 2, b, f), dout.transpose(2, 0, 3, 1, 4, 5))
    rows_in, rows_out = spread.reshape(-1, f), sums.reshape(-1, c)
    n = len(rows_in)
    # C-ordered copies of the kernel's transposes, because BLAS is much slower on transposed views
    kernel_t = np.ascontiguousarray(kernel.transpose(0, 1, 3, 2))  # (3, 3, F, C)
    np.matmul(rows_in, kernel_t[0, 0], out=rows_out[:n])  # the first block is written, not added to
    rows_out[n:] = 0
    for di, dj in itertools.islice(np.ndindex(KERNEL, KERNEL), 1, None):
        start = (di * width + dj) * b  # output (r, s) feeds input (r + di, s + dj): di rows and dj columns on
        rows_out[start : start + n] += np.matmul(rows_in, kernel_t[di, dj], out=product)
    np.copyto(dx, sums[:height])


def gradient_room(dout_shape: tuple[int, ...], dx_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes of conv_backward's work arrays for dx: dout spread as (2h, W, B, F), dx's sums as
    (H + 1, W, B, C), and one product (2h * W * B, C).

    The sums have a row more than dx: the last products' rows run up to two columns past the end
    of dx's last row (adding zeros there).
    """
    _, _, h, _, b, f = dout_shape
    height, width, _, c = dx_shape
    return [(2 * h, width, b, f), (height + 1, width, b, c), (2 * h * width * b, c)]


def pool(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """2x2 max-pooling: z (2, 2, h, w, B, F) from `conv` -> out (h, w, B, F)."""
    np.maximum(z[0, 0], z[0, 1], out=out)
    np.maximum(out, z[1, 0], out=out)
    np.maximum(out, z[1, 1], out=out)
    return out


def pool_backward(z: np.ndarray, pooled: np.ndarray, dpooled: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """Gradient of `pool`: each window's gradient goes to its maximum; dz like z (overwritten), or z
    itself (each of z's blocks is read before its gradient is written over it; the last is never read).

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


def flatten(a: np.ndarray, keep: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """Activations (h, w, B, F) image by image into out (B, h * w * F), in Keras' Flatten order (row,
    column, filter); times dropout's mask `keep` (B, h * w * F) on the way, when given."""
    h, w, b, f = a.shape
    images, by_image = out.reshape(b, h, w, f), a.transpose(2, 0, 1, 3)
    if keep is None:
        np.copyto(images, by_image)
    else:
        np.multiply(by_image, keep.reshape(images.shape), out=images)
    return out


def unflatten(d: np.ndarray, mask: np.ndarray, out: np.ndarray) -> np.ndarray:
    """`flatten`'s gradient: d (B, h * w * F) back into out (h, w, B, F), times `mask` (h, w, B, F) on
    the way (the ReLU's before the flattening)."""
    h, w, b, f = out.shape
    return np.multiply(d.reshape(b, h, w, f).transpose(1, 2, 0, 3), mask, out=out)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (B, 10) logits, in place."""
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits
