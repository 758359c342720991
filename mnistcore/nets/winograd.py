"""3x3 convolution by Winograd's minimal filtering F(2x2, 3x3), for a convolution that 2x2 pooling follows.

Each 2x2 block of outputs (one pooling window) is computed from the 4x4 tile of input under it;
neighbouring tiles overlap by two rows or columns. Winograd's transforms turn each tile, and the
kernel, into 16 numbers per channel such that the block's four outputs are fixed sums of the 16
products of the two: per tile and filter, 16 multiplications over the channels instead of 36
(4 outputs x 9 kernel positions). Summed over the channels these are 16 matrix products,
(tiles x C) @ (C x F): 2.25 times fewer floating-point operations than unrolling the windows
("im2col") and one product, and no nine-fold copy of the input. With F(2x2, 3x3)'s small
coefficients (0, +-1, +-1/2) the results agree with the direct sum to float32 rounding.

    V = Bt d Bt'   the input tile d (4x4)   Bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    U = G k G'     the kernel k (3x3)       G  = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    Y = At M At'   the outputs (2x2),       At = [[1, 1, 1, 0], [0, 1, -1, -1]],  M = sum over channels of U * V

(Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016.) The gradients run the
same maps backwards, transposed. Arrays are laid out as in `conv_layers`: input x (H, W, B, C);
transformed tiles V (4, 4, h, w, B, C) and kernel U (4, 4, C, F); outputs grouped for pooling,
(2, 2, h, w, B, F), out[pi, pj, i, j] being the output at row 2i + pi, column 2j + pj. Every
transform step is then a handful of array operations on long contiguous runs (a tile row of
the whole batch), and each of the 16 products' operands is one contiguous block.
"""
from __future__ import annotations

import numpy as np

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


def tiles(side: int) -> int:
    """Tiles along a side of H input rows: the 2x2 pooling windows of the H - 2 outputs, 12 -> 5, 7 -> 2."""
    return (side - 2) // 2


def _shapes(h: int, w: int, b: int, c: int, f: int) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Each work array's (flat array it lives in, shape), for h x w tiles of B images, C channels in,
    F filters out. Arrays sharing a flat one are never needed at the same time."""
    return {"v": (0, (4, 4, h, w, b, c)),            # the transformed tiles, kept for the backward pass
            "m": (1, (4, 4, h, w, b, f)),            # the products M; backward: dM
            "half": (2, (2, 4, h, w, b, f)),         # M along rows; backward: dM along rows...
            "dv": (2, (4, 4, h, w, b, c)),           # ...and then dV
            "rows": (3, (4, h, 2 * w + 2, b, c)),    # the tiles along rows; backward: dV back along rows
            "back": (3, (4, h + 1, 2, w, b, c)),
            "scratch": (4, (4, h + 1, w, b, c)),
            "du": (5, (4, 4, c, f))}                 # the kernel's gradient dU


def workspace(x_shape: tuple[int, ...], filters: int) -> list[int]:
    """Sizes (values) of the flat work arrays that `conv` and then `conv_backward` use, for input
    x_shape (H, W, B, C) and F filters (`_shapes` says what each holds).

    The backward pass reuses the forward pass's temporaries: for a piece of 32 images 8 MB instead
    of 16. Two training threads each pass their pieces' arrays through the cache the cores share
    (32 MB here); sharing them, and pooling's gradient written over the outputs it reads
    (`conv_layers.pool_backward`), made a training step with both threads 10-20% faster.
    """
    height, width, b, c = x_shape
    sizes = [0] * 6
    for k, shape in _shapes(tiles(height), tiles(width), b, c, filters).values():
        sizes[k] = max(sizes[k], int(np.prod(shape)))
    return sizes


def _views(work: list[np.ndarray], h: int, w: int, b: int, c: int, f: int) -> dict[str, np.ndarray]:
    """The work arrays shaped for one use each (views of the flat ones `workspace` sized)."""
    return {name: work[k][: np.prod(shape)].reshape(shape) for name, (k, shape) in _shapes(h, w, b, c, f).items()}


def kernel_transform(kernel: np.ndarray) -> np.ndarray:
    """U = G k G' for every channel and filter: kernel (3, 3, C, F) -> (4, 4, C, F), C-ordered."""
    g = G.astype(kernel.dtype)
    rows = (g @ kernel.reshape(3, -1)).reshape(4, 3, -1)  # G k, then (G k) G': G times each 3 x (C F) block
    return np.matmul(g, rows).reshape(4, 4, *kernel.shape[2:])


def conv(x: np.ndarray, u: np.ndarray, work: list[np.ndarray], out: np.ndarray) -> np.ndarray:
    """3x3 convolution without bias, the outputs that 2x2 pooling keeps, grouped for it.

    x (H, W, B, C), u = kernel_transform(kernel) -> out (2, 2, h, w, B, F), h = tiles(H). `work`:
    flat arrays of the sizes `workspace` gives, which conv_backward then takes as they are left.
    """
    h, w, b, _ = out.shape[2:]
    c, f = u.shape[2:]
    views = _views(work, h, w, b, c, f)
    v, m, half = views["v"], views["m"], views["half"]
    _input_transform(x[: 2 * h + 2, : 2 * w + 2], views["rows"], v)
    np.matmul(v.reshape(16, -1, c), u.reshape(16, c, f), out=m.reshape(16, -1, f))
    # Y = At M At': along rows (xi) into `half`, then along columns (eta) into out
    np.add(m[0], m[1], out=half[0])
    half[0] += m[2]
    np.subtract(m[1], m[2], out=half[1])
    half[1] -= m[3]
    np.add(half[:, 0], half[:, 1], out=out[:, 0])
    out[:, 0] += half[:, 2]
    np.subtract(half[:, 1], half[:, 2], out=out[:, 1])
    out[:, 1] -= half[:, 3]
    return out


def _input_transform(x: np.ndarray, rows: np.ndarray, v: np.ndarray) -> None:
    """V = Bt d Bt' for every tile d of x: along rows into `rows`, then along columns into v."""
    h, w = v.shape[2:4]
    x0, x1, x2, x3 = (x[r : r + 2 * h : 2] for r in range(4))  # row r of every tile, (h, W, B, C)
    np.subtract(x0, x2, out=rows[0])
    np.add(x1, x2, out=rows[1])
    np.subtract(x2, x1, out=rows[2])
    np.subtract(x1, x3, out=rows[3])
    c0, c1, c2, c3 = (rows[:, :, s : s + 2 * w : 2] for s in range(4))  # (4, h, w, B, C)
    np.subtract(c0, c2, out=v[:, 0])
    np.add(c1, c2, out=v[:, 1])
    np.subtract(c2, c1, out=v[:, 2])
    np.subtract(c1, c3, out=v[:, 3])


# The output gradient's transform is dM = At' dY At. At' = [[1, 0], [1, 1], [1, -1], [0, -1]] is
# S A with S = diag(1, 1, 1, -1) and A = [[1, 0], [1, 1], [1, -1], [0, 1]], so the backward pass
# computes A dY A' = S dM S (dM with its 4th row and column negated) and puts the signs back on
# the small kernel-sized arrays instead: S G for the kernel's gradient, U times S_xi S_eta for dV.
SIGNS = np.array([1, 1, 1, -1])
A = np.array([[1, 0], [1, 1], [1, -1], [0, 1]])
G_SIGNED = G * SIGNS[:, None]
SIGNS_2D = np.multiply.outer(SIGNS, SIGNS)[:, :, None, None]


def conv_backward(work: list[np.ndarray], u: np.ndarray, dout: np.ndarray, dkernel: np.ndarray,
                  dx: np.ndarray | None = None) -> None:
    """Gradients of `conv`: dkernel (3, 3, C, F) from dout (2, 2, h, w, B, F); dx (H, W, B, C) when given.

    work: the arrays `conv` used, as it left them (they hold its transformed tiles); u: the kernel
    transform it used.
    """
    h, w, b, _ = dout.shape[2:]
    c, f = u.shape[2:]
    views = _views(work, h, w, b, c, f)
    v, dm, half, du = views["v"], views["m"], views["half"], views["du"]
    # dm = A dY A' (= S dM S): two small products, along rows (xi) into `half`, then along columns
    # (eta). A's entries are 0 and 1 and each output sums two values at most: the same sums as
    # element-wise adds, in two passes instead of ten.
    a = A.astype(dout.dtype)
    np.matmul(a, dout.reshape(2, -1), out=half.reshape(4, -1))
    np.matmul(a, half.reshape(4, 2, -1), out=dm.reshape(4, 4, -1))
    # dU = V' dM = S (V' dm) S; dkernel = G' dU G = (S G)' (V' dm) (S G)
    np.matmul(v.reshape(16, -1, c).transpose(0, 2, 1), dm.reshape(16, -1, f), out=du.reshape(16, c, f))
    g = G_SIGNED.astype(dout.dtype)
    rows = (g.T @ du.reshape(4, -1)).reshape(3, 4, -1)  # G' dU, then (G' dU) G
    np.matmul(g.T, rows, out=dkernel.reshape(3, 3, -1))
    if dx is None:
        return
    # dV = dM U' = dm (S_xi S_eta U)': the signs go on a C-ordered copy of U's transpose (BLAS is
    # slower on transposed views)
    u_t = np.ascontiguousarray((u * SIGNS_2D.astype(u.dtype)).transpose(0, 1, 3, 2))
    dv = views["dv"]  # where dM along rows was: no longer needed
    np.matmul(dm.reshape(16, -1, f), u_t.reshape(16, f, c), out=dv.reshape(16, -1, c))
    _input_transform_backward(dv, views["back"], views["scratch"], dx)


def _input_transform_backward(dv: np.ndarray, back: np.ndarray, scratch: np.ndarray, dx: np.ndarray) -> None:
    """dx from the tiles' gradients dv (4, 4, h, w, B, C): Bt' dV Bt, with each tile's rows and columns
    added where tiles overlap (tile i's rows 2 and 3 are input rows 2i + 2 and 2i + 3, tile i + 1's
    rows 0 and 1). Along rows into `back` (4, h + 1, 2, w, B, C), then along columns into dx."""
    _, _, h, w, b, c = dv.shape
    height, width = dx.shape[:2]
    _overlap_add(dv, back[:, :, 0], back[:, :, 1], scratch, axis=1)
    exact = height == 2 * h + 2 and width == 2 * w + 2
    out = dx if exact else np.empty((2 * h + 2, 2 * w + 2, b, c), dx.dtype)
    pairs = out.reshape(h + 1, 2, w + 1, 2, b, c)
    _overlap_add(back, pairs[:, :, :, 0], pairs[:, :, :, 1], scratch, axis=2)
    if not exact:  # rows and columns past the last tile (pooling floors them) get no gradient
        dx[...] = 0
        dx[: 2 * h + 2, : 2 * w + 2] = out


def _overlap_add(d: np.ndarray, even: np.ndarray, odd: np.ndarray, scratch: np.ndarray, axis: int) -> None:
    """One axis of Bt' dV Bt with the overlaps added: d (4, ...) the tiles' transformed rows along the
    first axis, tiles along `axis` of d[0]; even, odd: the result's even and odd rows, by pairs
    along `axis` (one pair more than tiles). `scratch`: room for one d[0] (any shape, as large).

    Tile row r of Bt' dV: r0 = d0, r1 = d1 - d2 + d3, r2 = d1 + d2 - d0, r3 = -d3; rows 0 and 1 go
    to pair i, rows 2 and 3 to pair i + 1.
    """
    n = d.shape[axis + 1]
    own, next_, last = ([slice(None)] * even.ndim for _ in range(3))
    own[axis], next_[axis], last[axis] = slice(0, n), slice(1, n + 1), n
    own, next_, last = tuple(own), tuple(next_), tuple(last)
    temp = scratch.reshape(-1)[: d[0].size].reshape(d[0].shape)
    np.copyto(even[own], d[0])
    even[last] = 0
    np.add(d[1], d[2], out=temp)
    temp -= d[0]
    even[next_] += temp
    np.subtract(d[1], d[2], out=odd[own])
    odd[own] += d[3]
    odd[last] = 0
    odd[next_] -= d[3]
