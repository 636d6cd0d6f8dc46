"""The Dataset: id maps, interactions and item text, with a CSR user-item matrix inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from tailwise.data.idmap import IdMap


@dataclass(frozen=True, eq=False)
class Dataset:
    """Interactions between users and items, plus the text of each item.

    Internally everything is indexed by contiguous integers; external ids live in the two
    :class:`IdMap` objects and appear only at the edges (files, CLI, HTTP).

    Parameters
    ----------
    users, items : IdMap
        The id maps. ``items`` is the whole catalogue: it may hold items with text but no
        interactions (cold items), which stay recommendable by text-aware models.
    user_idx, item_idx : ndarray of int64
        One entry per interaction.
    rating : ndarray of float32, optional
        Explicit rating per interaction.
    timestamp : ndarray of float64, optional
        Time (or sequence position) per interaction; larger is later.
    item_text : ndarray of str, optional
        Text per item, aligned with ``items``; empty string for an item without text.
    name : str
        A label used in reports.

    Examples
    --------
    >>> ds = Dataset.from_ids(["u1", "u1", "u2"], ["a", "b", "a"])
    >>> ds.n_users, ds.n_items, ds.n_interactions
    (2, 2, 3)
    >>> ds.matrix().toarray().tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """

    users: IdMap
    items: IdMap
    user_idx: np.ndarray
    item_idx: np.ndarray
    rating: np.ndarray | None = None
    timestamp: np.ndarray | None = None
    item_text: np.ndarray | None = None
    name: str = "dataset"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.user_idx)
        if len(self.item_idx) != n:
            raise ValueError("user_idx and item_idx must have the same length")
        for label, arr in (("rating", self.rating), ("timestamp", self.timestamp)):
            if arr is not None and len(arr) != n:
                raise ValueError(f"{label} must have one entry per interaction")
        if self.item_text is not None and len(self.item_text) != len(self.items):
            raise ValueError("item_text must have one entry per item")
        if n and (self.user_idx.min() < 0 or self.user_idx.max() >= len(self.users)):
            raise ValueError("user_idx out of range of the user IdMap")
        if n and (self.item_idx.min() < 0 or self.item_idx.max() >= len(self.items)):
            raise ValueError("item_idx out of range of the item IdMap")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_ids(
        cls,
        user_ids: list | np.ndarray,
        item_ids: list | np.ndarray,
        rating: np.ndarray | None = None,
        timestamp: np.ndarray | None = None,
        item_text: dict[str, str] | None = None,
        name: str = "dataset",
    ) -> Dataset:
        """Build a Dataset from parallel arrays of external ids (first-seen order defines indices).

        Items in `item_text` that have no interaction are added to the catalogue as cold items.
        """
        u = np.asarray(user_ids).astype(str)
        i = np.asarray(item_ids).astype(str)
        users = IdMap(dict.fromkeys(u.tolist()))
        items = IdMap(dict.fromkeys(i.tolist()))
        if item_text:
            items = items.extend(item_text.keys())
        text = None
        if item_text is not None:
            text = np.asarray([item_text.get(x, "") for x in items.ids.tolist()], dtype=object)
        return cls(
            users=users,
            items=items,
            user_idx=users.indices(u.tolist()),
            item_idx=items.indices(i.tolist()),
            rating=None if rating is None else np.asarray(rating, dtype=np.float32),
            timestamp=None if timestamp is None else np.asarray(timestamp, dtype=np.float64),
            item_text=text,
            name=name,
        )

    def subset(self, mask: np.ndarray, name: str | None = None) -> Dataset:
        """The same catalogue and users with only the interactions where `mask` is true."""
        return Dataset(
            users=self.users,
            items=self.items,
            user_idx=self.user_idx[mask],
            item_idx=self.item_idx[mask],
            rating=None if self.rating is None else self.rating[mask],
            timestamp=None if self.timestamp is None else self.timestamp[mask],
            item_text=self.item_text,
            name=name or self.name,
        )

    # ------------------------------------------------------------------ views
    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_interactions(self) -> int:
        return len(self.user_idx)

    def matrix(self, values: str = "binary") -> sp.csr_matrix:
        """The user x item CSR matrix (float32); `values` is ``"binary"`` or ``"rating"``.

        Repeated (user, item) pairs are summed for ratings and kept as 1 for binary.
        """
        key = ("matrix", values)
        if key not in self._cache:
            if values == "rating":
                if self.rating is None:
                    raise ValueError(f"dataset {self.name!r} has no ratings")
                data = self.rating.astype(np.float32)
            elif values == "binary":
                data = np.ones(self.n_interactions, dtype=np.float32)
            else:
                raise ValueError(f"values must be 'binary' or 'rating', not {values!r}")
            m = sp.csr_matrix(
                (data, (self.user_idx, self.item_idx)),
                shape=(self.n_users, self.n_items),
                dtype=np.float32,
            )
            m.sum_duplicates()
            if values == "binary":
                m.data[:] = 1.0
            m.sort_indices()
            self._cache[key] = m
        return self._cache[key]

    @cached_property
    def item_counts(self) -> np.ndarray:
        """Number of distinct users who interacted with each item (int64, length n_items)."""
        return np.diff(self.matrix().tocsc().indptr).astype(np.int64)

    @cached_property
    def user_counts(self) -> np.ndarray:
        """Number of distinct items per user (int64, length n_users)."""
        return np.diff(self.matrix().indptr).astype(np.int64)

    def user_counts_all(self) -> np.ndarray:
        """Number of interaction rows per user, repeats included (int64, length n_users)."""
        return np.bincount(self.user_idx, minlength=self.n_users).astype(np.int64)

    def texts(self) -> list[str]:
        """Item texts in index order (empty strings when the dataset has no text)."""
        if self.item_text is None:
            return [""] * self.n_items
        return [str(t) for t in self.item_text]

    def describe(self) -> dict[str, object]:
        """Counts worth printing: users, items, interactions, density, items with text."""
        n_text = 0 if self.item_text is None else int(sum(bool(t) for t in self.item_text))
        cells = max(self.n_users * self.n_items, 1)
        return {
            "name": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "items_with_interactions": int((self.item_counts > 0).sum()),
            "interactions": self.n_interactions,
            "density": self.matrix().nnz / cells,
            "items_with_text": n_text,
            "has_rating": self.rating is not None,
            "has_timestamp": self.timestamp is not None,
        }
