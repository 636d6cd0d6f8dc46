"""Lists by external ids, and why a list is the popularity fallback."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: why a list is the popularity fallback (:attr:`UserLists.fallback`)
UNKNOWN_USER = "unknown user"
EMPTY_HISTORY = "empty history"
COLD_HISTORY = "none of its items has training interactions, so the model scores every item alike"
FLAT_SCORES = "the model scores every item alike for it"


@dataclass(frozen=True)
class UserLists:
    """Recommendations for a batch of external user ids (rows padded with -1 items).

    `fallback` says, per user, why the list is the popularity fallback (one of
    :data:`UNKNOWN_USER`, :data:`EMPTY_HISTORY`, :data:`tailwise.pipeline.query.NO_QUERY_MATCH`, :data:`COLD_HISTORY`,
    :data:`FLAT_SCORES`), or ``""`` where it is the model's own list. `relevant` (lists for a
    query only) says how many of each list's first items are relevant to the query (0: the
    query matches no item; see :mod:`tailwise.pipeline.query`).
    """

    user_ids: list[str]
    items: np.ndarray  # int64 [n, k] item indices
    scores: np.ndarray  # float32 [n, k]
    known: np.ndarray  # bool [n]: the user id is a training user (False also for a history or query)
    fallback: tuple[str, ...]
    relevant: np.ndarray | None = None  # int64 [n], lists for a query only
