"""Head/tail groups of items by their popularity in the training data."""

from __future__ import annotations

import numpy as np


def tail_mask(item_counts: np.ndarray, head_share: float = 0.2) -> np.ndarray:
    """Boolean mask of tail items: every item outside the `head_share` most popular ones.

    The head is the ``ceil(head_share * n_items)`` items with the most training interactions
    (ties broken by lower index). Items without interactions are always tail.

    Examples
    --------
    >>> tail_mask(np.array([50, 1, 7, 0, 3]), head_share=0.2).tolist()
    [False, True, True, True, True]
    >>> tail_mask(np.array([5, 9, 0, 0, 2]), head_share=0.4).tolist()
    [False, False, True, True, True]
    """
    if not 0.0 <= head_share <= 1.0:
        raise ValueError(f"head_share must be in [0, 1], not {head_share}")
    counts = np.asarray(item_counts)
    n_head = int(np.ceil(head_share * len(counts)))
    order = np.lexsort((np.arange(len(counts)), -counts))
    mask = np.ones(len(counts), dtype=bool)
    mask[order[:n_head]] = False
    mask[counts == 0] = True
    return mask
