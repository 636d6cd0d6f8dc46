"""Why an item is recommended, and which items are alike, from the model's own item relations.

:func:`relations` takes the item-to-item affinity the model declares
(:meth:`~tailwise.models.base.Recommender.item_relations`, see :mod:`tailwise.models.relations`),
or co-occurrence in the training history for a model that declares none.

An explanation names the history item with the highest affinity to the recommended item
("because you liked Toy Story (1995)"), or says the free-text query drove it.
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp

from tailwise.models.base import Recommender
from tailwise.models.relations import Relations

_TITLE_YEAR = re.compile(r"^(.{1,200}?\(\d{4}\))")
TITLE_CHARS = 80


def short_title(text: str, limit: int = TITLE_CHARS) -> str:
    """The title part of an item text: up to a ``(year)``, else the first line or sentence.

    Examples
    --------
    >>> short_title("Toy Story (1995). Adventure, Animation, Children")
    'Toy Story (1995)'
    >>> short_title("Pipette 10 ml\\nA sturdy glass pipette")
    'Pipette 10 ml'
    >>> short_title("Heat. A cop hunts a thief")
    'Heat'
    """
    text = text.strip()
    first = text.splitlines()[0].strip() if text else ""
    if m := _TITLE_YEAR.match(first):
        first = m.group(1)
    elif ". " in first:
        first = first.split(". ", 1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def relations(model: Recommender, history: sp.csr_matrix) -> Relations:
    """The item relations a fitted model declares, or co-occurrence in `history` when it
    declares none (see :mod:`tailwise.models.relations`)."""
    own = model.item_relations()
    return own if own is not None else Relations(history)


def because(
    rel: Relations,
    liked: np.ndarray,
    seeds: np.ndarray,
    recs: np.ndarray,
    titles: list[str],
) -> list[str]:
    """One short explanation per recommended item.

    Parameters
    ----------
    rel : Relations
        The model's item relations.
    liked : int array
        The user's history (training and feedback, or the history a request gave).
    seeds : int array
        Items found by a free-text query ("matches your text" when one of them drives an item).
    recs : int array
        The recommended items.
    titles : list of str
        Short titles by item index.
    """
    liked = np.asarray(liked, dtype=np.int64)
    seeds = np.setdiff1d(np.asarray(seeds, dtype=np.int64), liked)
    drivers = np.concatenate([liked, seeds])
    if not len(drivers):
        return ["popular with everyone"] * len(recs)
    if not len(recs):
        return []
    aff = rel.affinity(drivers, np.asarray(recs, dtype=np.int64))
    best = np.argmax(aff, axis=0)
    out = []
    for col, row in enumerate(best):
        if aff[row, col] <= 0:
            out.append("matches your text" if len(seeds) and not len(liked) else "fits your overall taste")
        elif row >= len(liked):
            out.append("matches your text")
        else:
            out.append(f"because you liked {titles[drivers[row]]}")
    return out
