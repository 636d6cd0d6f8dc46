"""EASE's dense weights in a model directory: one triangle, and the other to the last bit.

EASE's weights are ``B = -P diag(d)^-1`` with a zero diagonal, ``P`` the symmetric inverse of
the Gram matrix and ``d = diag(P)`` (:class:`~tailwise.models.ease.EASE`). So the lower
triangle is the upper one rescaled, ``B_ji = B_ij d_j / d_i``, which float32 rounding keeps
only to about the last bit. A model directory stores

- ``weights_upper_``: the strict upper triangle, float32, row by row (``n (n - 1) / 2`` values);
- ``inverse_diag_``: ``d`` (float32, ``n``);
- ``weights_lower_ulps_``: for each lower entry, how many units in the last place it lies from
  the rescaled upper one (an integer distance between the float32 bit patterns; int8 when every
  distance fits, as the 0, +1 and -1 of rounding do, else int32);

and :func:`unpack_weights` rebuilds the very same bits: every score of a loaded model is the
fitted model's to the last digit, on any machine (the rescaling is elementwise IEEE arithmetic,
the same everywhere). That is about 5/8 of the dense matrix's bytes, and the distances, three
quarters of them 0, compress to a few bits each in the directory's deflated ``model.npz``.

>>> rng = np.random.default_rng(0)
>>> p = rng.standard_normal((5, 5)).astype(np.float32); p = p @ p.T + 5 * np.eye(5, dtype=np.float32)
>>> d = np.diag(p).copy(); b = p / -d[None, :]; b[np.diag_indices(5)] = 0
>>> upper, ulps = pack_weights(b, d)
>>> len(upper), ulps.dtype.name, np.array_equal(unpack_weights(upper, ulps, d), b)
(10, 'int8', True)
"""

from __future__ import annotations

import numpy as np

#: rows rescaled at a time: the float64 temporaries are ``ROWS x n``
ROWS = 256


def packable(weights: np.ndarray, inverse_diag: np.ndarray | None) -> bool:
    """Whether `weights` can be stored by :func:`pack_weights`: square float32 with a zero
    diagonal and a float32 `inverse_diag` of its length (else it is stored dense)."""
    w, d = weights, inverse_diag
    return (
        d is not None and w.ndim == 2 and w.shape[0] == w.shape[1] == d.shape[0] and d.ndim == 1
        and w.dtype == np.float32 and d.dtype == np.float32 and not np.diagonal(w).any()
    )  # fmt: skip


def _offsets(n: int) -> np.ndarray:
    """Where row i's strict upper part starts in the packed triangle (``n + 1`` entries)."""
    i = np.arange(n + 1, dtype=np.int64)
    return i * (n - 1) - i * (i - 1) // 2


def _rescaled(rows: np.ndarray, d: np.ndarray, start: int) -> np.ndarray:
    """``rows[i, j] * d_j / d_{start + i}`` rounded to float32: the lower triangle predicted
    from the upper one (only the entries right of the diagonal mean anything)."""
    d64 = d.astype(np.float64)
    with np.errstate(all="ignore"):  # a zero or odd d only makes the distances larger
        ratio = d64[None, :] / d64[start : start + len(rows), None]
        return (rows.astype(np.float64) * ratio).astype(np.float32)


def pack_weights(weights: np.ndarray, inverse_diag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strict upper triangle of `weights` (row by row) and the lower triangle's distances
    from it in units in the last place (see the module docstring); `weights` must be
    :func:`packable`."""
    n = len(weights)
    off = _offsets(n)
    upper = np.empty(off[-1], np.float32)
    ulps = np.empty(off[-1], np.int8)
    for a in range(0, n, ROWS):
        rows = weights[a : a + ROWS]
        # bit distances, wrapping around in int32: exact whatever the values
        diff = weights[:, a : a + ROWS].T.view(np.int32) - _rescaled(rows, inverse_diag, a).view(np.int32)
        for i in range(a, a + len(rows)):
            s, e = off[i], off[i + 1]
            upper[s:e] = rows[i - a, i + 1 :]
            dist = diff[i - a, i + 1 :]
            if ulps.dtype == np.int8 and e > s and (dist.min() < -128 or dist.max() > 127):
                ulps = ulps.astype(np.int32)
            ulps[s:e] = dist
    return upper, ulps


def unpack_weights(upper: np.ndarray, ulps: np.ndarray, inverse_diag: np.ndarray) -> np.ndarray:
    """The dense weights :func:`pack_weights` stored, bit for bit (C order).

    Raises
    ------
    ValueError
        Naming the array whose length or type does not fit the others.
    """
    d = np.asarray(inverse_diag)
    if d.ndim != 1 or d.dtype != np.float32:
        raise ValueError(f"'inverse_diag_' must be a float32 vector, not a {d.dtype} array of shape {d.shape}")
    n = len(d)
    off = _offsets(n)
    for key, arr, kind in (("weights_upper_", upper, "f"), ("weights_lower_ulps_", ulps, "i")):
        if arr.ndim != 1 or arr.dtype.kind != kind or arr.dtype.itemsize > 4:
            what = "float32 values" if kind == "f" else "integers of at most 32 bits"
            raise ValueError(f"{key!r} must be a vector of {what}, not a {arr.dtype} array of shape {arr.shape}")
        if len(arr) != off[-1]:
            raise ValueError(
                f"{key!r} holds {len(arr):,} values; 'inverse_diag_' has {n:,} items, "
                f"so it should hold {n:,} x {max(n - 1, 0):,} / 2 = {int(off[-1]):,}"
            )
    w = np.zeros((n, n), np.float32)
    for i in range(n):
        w[i, i + 1 :] = upper[off[i] : off[i + 1]]
    for a in range(0, n, ROWS):
        b = min(a + ROWS, n)
        bits = _rescaled(w[a:b], d, a).view(np.int32)
        for i in range(a, b):
            bits[i - a, i + 1 :] += ulps[off[i] : off[i + 1]]  # wraps around as the packing did
        lower = bits.view(np.float32)  # lower[i - a, j] = B_ji for j > i
        w[b:, a:b] = lower[:, b:].T
        block, below = w[a:b, a:b], np.tril_indices(b - a, -1)
        block[below] = lower[:, a:b].T[below]
    return w
