"""Frozen mapping between external ids (strings) and contiguous internal indices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class IdMap:
    """An immutable bijection between external ids and indices ``0..n-1``.

    External ids are kept as strings: ``"42"`` in a CSV file and ``42`` in a JSON body name the
    same user. The order of ``ids`` defines the indices.

    Examples
    --------
    >>> m = IdMap(["b", "a", "c"])
    >>> m.index("a"), m.id(2), len(m)
    (1, 'c', 3)
    >>> m.indices(["c", "zz"], missing=-1).tolist()
    [2, -1]
    """

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable[object]) -> None:
        strs = [str(i) for i in ids]
        if any(s.endswith("\x00") for s in strs):
            # NumPy string arrays drop trailing NUL characters, so such an id would not round-trip
            raise ValueError("IdMap ids must not end with a NUL character ('\\x00')")
        arr = np.asarray(strs, dtype=str)
        index = {v: i for i, v in enumerate(arr.tolist())}
        if len(index) != len(arr):
            seen: set[str] = set()
            dup = next(v for v in arr.tolist() if v in seen or seen.add(v))
            raise ValueError(f"IdMap ids must be unique; {dup!r} occurs more than once")
        arr.setflags(write=False)
        self._ids = arr
        self._index = index

    @property
    def ids(self) -> np.ndarray:
        """The external ids as a read-only string array, in index order."""
        return self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and np.array_equal(self._ids, other._ids)

    def __hash__(self) -> int:
        return hash(tuple(self._ids.tolist()))

    def __repr__(self) -> str:
        return f"IdMap(n={len(self)})"

    def index(self, external_id: object) -> int:
        """The index of one external id; KeyError names the id when it is unknown."""
        try:
            return self._index[str(external_id)]
        except KeyError:
            raise KeyError(f"unknown id {external_id!r}") from None

    def indices(self, external_ids: Sequence[object], missing: int | None = None) -> np.ndarray:
        """Indices of many ids; unknown ids raise KeyError, or map to `missing` when given."""
        if missing is None:
            return np.fromiter((self.index(e) for e in external_ids), np.int64, len(external_ids))
        get = self._index.get
        return np.fromiter(
            (get(str(e), missing) for e in external_ids), np.int64, len(external_ids)
        )

    def id(self, index: int) -> str:
        """The external id at one index."""
        return str(self._ids[index])

    def extend(self, new_ids: Iterable[object]) -> IdMap:
        """A new map with the unseen ids of `new_ids` appended (existing indices unchanged)."""
        extra = [str(i) for i in dict.fromkeys(str(i) for i in new_ids) if str(i) not in self]
        return IdMap(self._ids.tolist() + extra) if extra else self
