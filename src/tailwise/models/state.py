"""Checks of a model's fitted arrays: every array present, shapes consistent, values finite.

A fitted model's state is plain arrays (:meth:`Recommender.get_state`), restored from a model
directory by :meth:`Recommender.set_state`. :class:`StateCheck` is what a model's
``_check_state`` uses to declare how its arrays fit together (``check.shape("weights_",
"active", "active")``: square, as long as ``active_``); :meth:`Recommender.check_state` runs
it after every fit (a parameter that drove the arithmetic to NaN shows here) and on every load
(a damaged or hand-edited model directory shows here).

Examples
--------
>>> import numpy as np
>>> check = StateCheck({"a_": np.zeros((3, 2)), "b_": np.zeros(4)}, n_items=3, n_users=5)
>>> check.shape("a_", "items", "d")
>>> check.shape("b_", "d")
>>> check.problems
["'b_' has shape (4,), expected (2,) (d = 2 from 'a_')"]
"""

from __future__ import annotations

import numpy as np

#: values :meth:`StateCheck.finite` checks at a time
FINITE_BLOCK = 1 << 22


class StateCheck:
    """Collects what is wrong with a model's arrays (an empty :attr:`problems` when nothing).

    Dimensions are named: ``"items"`` and ``"users"`` are the model's item and user counts, any
    other name is bound by the first array that uses it and must match in every later one.
    """

    def __init__(self, state: dict[str, np.ndarray], n_items: int, n_users: int, prefix: str = "") -> None:
        self.state = state
        self.prefix = prefix
        self.dims: dict[str, tuple[int, str]] = {"items": (n_items, "the item ids"), "users": (n_users, "the user ids")}
        self.problems: list[str] = []

    def has(self, key: str) -> bool:
        """Whether the array `key` is there (a missing one is a problem)."""
        if key in self.state:
            return True
        self.problems.append(f"the array {self.prefix + key!r} is missing")
        return False

    def shape(self, key: str, *dims: str | int) -> None:
        """`key` has one axis per entry of `dims`: a dimension name or a fixed length."""
        if not self.has(key):
            return
        arr = np.asarray(self.state[key])
        name = repr(self.prefix + key)
        if arr.ndim != len(dims):
            self.problems.append(f"{name} has {arr.ndim} axes, expected {len(dims)}")
            return
        for axis, dim in enumerate(dims):
            if isinstance(dim, str) and dim not in self.dims:
                self.dims[dim] = (arr.shape[axis], name)
        expected = tuple(d if isinstance(d, int) else self.dims[d][0] for d in dims)
        if arr.shape != expected:
            why = ", ".join(f"{d} = {self.dims[d][0]} from {self.dims[d][1]}" for d in dict.fromkeys(dims) if isinstance(d, str))
            self.problems.append(f"{name} has shape {arr.shape}, expected {expected} ({why})")

    def indices(self, key: str, n: int) -> None:
        """`key` holds indices in ``0 .. n - 1``."""
        arr = np.asarray(self.state.get(key, [])).ravel()
        if len(arr) and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= n):
            self.problems.append(f"{self.prefix + key!r} holds indices outside 0..{n - 1}")

    def csr(self, data: str, indices: str, indptr: str, rows: str | int, n_cols: int) -> None:
        """Three arrays that form a CSR matrix with `rows` rows and `n_cols` columns."""
        if not all(self.has(k) for k in (data, indices, indptr)):
            return
        n_rows = rows if isinstance(rows, int) else self.dims.get(rows, (None,))[0]
        ptr = np.asarray(self.state[indptr])
        if n_rows is not None:
            self.shape(indptr, n_rows + 1)
        nnz = len(np.asarray(self.state[indices]))
        if ptr.ndim != 1 or not len(ptr) or ptr[0] != 0 or ptr[-1] != nnz or (np.diff(ptr) < 0).any():
            self.problems.append(f"{self.prefix + indptr!r} is not a valid row pointer for {nnz} entries")
        if len(np.asarray(self.state[data])) != nnz:
            self.problems.append(f"{self.prefix + data!r} and {self.prefix + indices!r} differ in length")
        self.indices(indices, n_cols)

    def finite(self, nan_allowed: tuple[str, ...] = ()) -> None:
        """Every floating-point array holds only finite values (checked a block of rows at a
        time, so a large array needs no array of flags as large)."""
        for key, value in self.state.items():
            arr = np.asarray(value)
            if arr.dtype.kind != "f" or not arr.size:
                continue
            if key in nan_allowed:  # NaN means "unknown" there; infinities are still wrong
                if np.isinf(arr).any():
                    self.problems.append(f"{self.prefix + key!r} has infinite values")
                continue
            rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
            step = max(1, FINITE_BLOCK // rows.shape[1])
            bad = sum(rows[i : i + step].size - np.count_nonzero(np.isfinite(rows[i : i + step])) for i in range(0, len(rows), step))
            if bad:
                self.problems.append(f"{self.prefix + key!r} has {bad:,} NaN or infinite values")
