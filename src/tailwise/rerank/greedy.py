"""Vectorised greedy selection over users: k steps, each one NumPy operation over the batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def minmax(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-row min-max scaling of the valid scores to [0, 1] (a constant row becomes 1, the
    invalid entries 0).

    Examples
    --------
    >>> minmax(np.array([[3.0, 2.0, 1.0], [5.0, 5.0, -np.inf]]), np.array([[1, 1, 1], [1, 1, 0]], bool)).tolist()
    [[1.0, 0.5, 0.0], [1.0, 1.0, 0.0]]
    """
    s = scores.astype(np.float64)
    lo = np.where(valid, s, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, s, -np.inf).max(axis=1, keepdims=True)
    span = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    with np.errstate(invalid="ignore"):
        out = np.where(span > 0, (s - lo) / np.where(span > 0, span, 1.0), 1.0)
    return np.where(valid, out, 0.0)


def greedy(
    gain: Callable[[np.ndarray, int], np.ndarray],
    valid: np.ndarray,
    k: int,
    on_pick: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Vectorised greedy selection: k steps, each picking every row's best remaining candidate.

    `gain(available, step)` returns the marginal gain ``[n, N]`` of each candidate given what
    was picked so far; `on_pick(rows, positions)` lets the caller update its state. Ties go to
    the earlier (better-ranked) candidate. Rows run out gracefully (-1 once nothing is left).
    `on_pick` is not called after the last step.
    """
    n = len(valid)
    available = valid.copy()
    out = np.full((n, k), -1, dtype=np.int64)
    rows = np.arange(n)
    for step in range(k):
        live = available.any(axis=1)
        if not live.any():
            break
        g = np.where(available, gain(available, step), -np.inf)
        pick = np.argmax(g, axis=1)
        out[live, step] = pick[live]
        available[rows[live], pick[live]] = False
        if on_pick is not None and step + 1 < k:  # the state after the last pick is not needed
            on_pick(live, pick)
    return out


def group_greedy(
    rel: np.ndarray,
    valid: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    k: int,
    weight: float,
    bonus: Callable[[int], np.ndarray],
    on_pick: Callable[[np.ndarray, np.ndarray], None],
) -> np.ndarray:
    """Greedy selection when the gain is ``weight * rel`` plus a bonus that depends on the group.

    When an item's gain beyond its relevance depends only on its group (head/tail, popularity
    group) and on what was chosen so far, the best candidate is always the most relevant
    remaining one of some group: each step compares the fronts of ``n_groups`` queues, so a step
    costs ``O(n * n_groups)`` instead of ``O(n * N)``. The result equals :func:`greedy` with the
    same gain (ties go to the earlier candidate).

    Parameters
    ----------
    rel : float array [n, N]
        Relevance.
    valid : bool array [n, N]
    group : int array [n, N]
        Group of each candidate, in ``[0, n_groups)``.
    k : int
        Items to choose.
    weight : float
        Weight of relevance in the gain.
    bonus : callable
        ``bonus(step)`` returns ``[n, n_groups]``: the rest of the gain of adding an item of
        each group, given the state so far.
    on_pick : callable
        ``on_pick(live, groups)`` after each step: rows that picked and the group they picked.

    Returns
    -------
    int array [n, k]
        Chosen positions in order, -1 once a row has nothing left.
    """
    n, width = rel.shape
    key = np.where(valid, group, n_groups).astype(np.int8 if n_groups < 127 else np.int64)
    if is_sorted(rel, valid):  # the usual case, candidates best first: group, then position
        order = np.argsort(key, axis=1, kind="stable")
    else:  # by group, then relevance, then position
        order = np.lexsort((-rel, key), axis=-1)
    counts = np.stack([(key == g).sum(axis=1) for g in range(n_groups)], axis=1)
    start = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(counts, axis=1)[:, :-1]], axis=1)
    end = start + counts
    ptr = start.copy()
    rows = np.arange(n)
    out = np.full((n, k), -1, dtype=np.int64)
    for step in range(k):
        left = ptr < end
        live = left.any(axis=1)
        if not live.any():
            break
        front = np.take_along_axis(order, np.minimum(ptr, width - 1), axis=1)
        gain = np.where(left, weight * np.take_along_axis(rel, front, axis=1) + bonus(step), -np.inf)
        best = gain.max(axis=1, keepdims=True)
        g = np.argmin(np.where(gain == best, front, width), axis=1)
        out[live, step] = front[rows, g][live]
        ptr[rows[live], g[live]] += 1
        on_pick(live, g)
    return out


def is_sorted(rel: np.ndarray, valid: np.ndarray) -> bool:
    """Whether every row's valid values are non-increasing and come before the invalid ones."""
    if rel.shape[1] < 2:
        return True
    r = np.where(valid, rel, -np.inf)
    return bool((r[:, 1:] <= r[:, :-1]).all() and not (valid[:, 1:] & ~valid[:, :-1]).any())
