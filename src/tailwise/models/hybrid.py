"""Hybrid: CF where an item has evidence, the language side where it has little.

Scores of the two sides are standardised per user (z-scores over the catalogue), then fused:

- ``"gate"`` (default): ``g_ui = w_i z_cf + (1 - w_i) z_lm`` with ``w_i = (1 - alpha) p_i`` and
  ``p_i = n_i / (n_i + evidence)``, ``n_i`` the item's training interactions. A hit leans on CF
  (``w -> 1 - alpha``); an item with no interactions is scored by the language side alone.
- ``"blend"``: ``(1 - alpha) z_cf + alpha z_lm`` for every item.
- ``"rrf"``: reciprocal-rank fusion ``1 / (60 + rank_cf) + 1 / (60 + rank_lm)``.

The model scores; it does not shape lists. Its default exposure stage, which the pipeline
applies when no other re-ranker is asked for, gives the long tail a share of each list that
follows the user's own taste (:class:`tailwise.rerank.TailSlots`, calibration after Steck
2018): ``m_u = round(tail_share * k * t_u)`` of the k slots, with ``t_u`` the tail share of the
user's history (clipped to at least one slot and half the list), go to the user's best-scored
tail items. ``tail_share = 0`` turns this off.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.models.adapter import Adapter
from tailwise.models.base import Recommender
from tailwise.models.ease import EASE, item_gram
from tailwise.models.params import BIG, MAX_DIM, Int, OneOf, Real, Text, rules
from tailwise.models.relations import Relations
from tailwise.models.state import StateCheck
from tailwise.text.side import TextSide

FUSIONS = ("gate", "blend", "rrf")


def zscore(scores: np.ndarray, rows: sp.csr_matrix | None = None) -> np.ndarray:
    """Per-row standardisation over the items not in `rows` (the user's history).

    The history items are left out of the mean and deviation (they are never recommended and
    would skew both), but standardised like every other item. ``-inf`` stays ``-inf``. A row
    whose deviation is below ``1e-5`` of its mean (constant up to rounding) is only centred.
    """
    masked = np.where(np.isfinite(scores), scores, np.nan).astype(np.float32)
    if rows is not None:
        r, c = rows.nonzero()
        masked[r, c] = np.nan
    mean = np.nan_to_num(np.nanmean(masked, axis=1, keepdims=True))
    std = np.nanstd(masked, axis=1, keepdims=True)
    # a row that is constant up to rounding (a side that cannot tell items apart) stays flat:
    # dividing its rounding noise by an equally tiny deviation would turn noise into scores
    flat = ~(std > 1e-5 * np.abs(mean))
    out = (scores - mean) / np.where(flat, 1.0, std)
    return np.where(np.isfinite(scores), out, -np.inf).astype(np.float32)


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each item in its row (1 = best)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return out


class Hybrid(Recommender):
    """EASE fused with the text adapter, gated by evidence, with calibrated tail slots.

    Parameters
    ----------
    l2 : float
        EASE penalty (default 500).
    fusion : {"gate", "blend", "rrf"}
        How the sides are combined (see the module docstring).
    alpha : float
        Weight of the language side for well-known items (default 0.4).
    evidence : float
        Interactions at which CF gets half its full weight (default 10).
    tail_share : float
        Calibrated tail slots, 0 = off (default 0.5).
    head_share : float
        Share of items counted as head when deciding what is tail (default 0.2).
    encoder, factors, adapter_l2, max_tokens, cache_dir
        Passed to :class:`~tailwise.models.adapter.Adapter`.
    """

    name = "hybrid"
    param_rules = rules(
        l2=EASE.param_rules["l2"], fusion=OneOf(*FUSIONS), alpha=Real(0, 1),
        evidence=Real(0, BIG, low_open=True), tail_share=Real(0, 1), head_share=Real(0, 1),
        encoder=Text(), factors=Int(1, MAX_DIM), adapter_l2=Adapter.param_rules["l2"],
        max_tokens=Int(1), cache_dir=Text(optional=True),
    )  # fmt: skip
    _state_keys = ("item_counts_",)

    def __init__(
        self,
        l2: float = 500.0,
        fusion: str = "gate",
        alpha: float = 0.4,
        evidence: float = 10.0,
        tail_share: float = 0.5,
        head_share: float = 0.2,
        encoder: str = "use",
        factors: int = 256,
        adapter_l2: float = 1.0,
        max_tokens: int = 128,
        cache_dir: str | None = None,
    ) -> None:
        self.l2 = l2
        self.fusion = fusion
        self.alpha = alpha
        self.evidence = evidence
        self.tail_share = tail_share
        self.head_share = head_share
        self.encoder = encoder
        self.factors = factors
        self.adapter_l2 = adapter_l2
        self.max_tokens = max_tokens
        self.cache_dir = cache_dir

    def _parts(self) -> tuple[EASE, Adapter]:
        ease = EASE(l2=self.l2)
        adapter = Adapter(
            encoder=self.encoder, factors=self.factors, l2=self.adapter_l2,
            max_tokens=self.max_tokens, cache_dir=self.cache_dir,
        )  # fmt: skip
        return ease, adapter

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        ease, adapter = self._parts()
        for part in (ease, adapter):
            part.n_items_, part.n_users_ = dataset.n_items, dataset.n_users
        active, gram = item_gram(train)  # one Gram matrix for both sides
        adapter._fit(train, dataset, gram=(active, gram))  # reads it
        ease.fit_gram(active, gram)  # then overwrites it
        self.ease_, self.adapter_ = ease, adapter
        self.item_counts_ = np.asarray(dataset.item_counts, dtype=np.float32)

    # ------------------------------------------------------------------ new items
    def add_items(self, texts: list[str]) -> None:
        """Append items placed by the adapter from their text (see the base class).

        A new item has no evidence (``n_i = 0``), so the gate gives its CF side weight 0. EASE
        scores it like an item without interactions at fit time: 0 (it is outside EASE's
        active items), which needs no change to the EASE weights, only a wider score row.
        """
        self._check_fitted()
        adapter, ease = copy.copy(self.adapter_), copy.copy(self.ease_)
        adapter.add_items(texts)
        ease.n_items_ = int(ease.n_items_) + len(texts)
        self.adapter_, self.ease_ = adapter, ease
        self.item_counts_ = np.concatenate([self.item_counts_, np.zeros(len(texts), np.float32)])
        self.n_items_ = int(self.n_items_) + len(texts)

    def update_item_texts(self, indices: np.ndarray, texts: list[str]) -> None:
        """Place existing items again by the adapter from new texts; their evidence is kept."""
        adapter = copy.copy(self.adapter_)
        adapter.update_item_texts(indices, texts)
        self.adapter_ = adapter

    # ------------------------------------------------------------------ scoring
    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        cf = self.ease_._score(users, rows)
        lm = self.adapter_._score(users, rows)
        if self.fusion == "rrf":
            return (1.0 / (60.0 + ranks(cf)) + 1.0 / (60.0 + ranks(lm))).astype(np.float32)
        zc, zl = zscore(cf, rows), zscore(lm, rows)
        if self.fusion == "blend":
            return (1 - self.alpha) * zc + self.alpha * zl
        p = self.item_counts_ / (self.item_counts_ + np.float32(self.evidence))
        w = (1 - self.alpha) * p
        return w * zc + (1 - w) * zl

    # ------------------------------------------------------------------ what the stages read
    def default_exposure(self) -> dict[str, object] | None:
        """The calibrated tail slots (:class:`tailwise.rerank.TailSlots`) with ``tail_share`` as
        the knob, or None when ``tail_share`` is 0."""
        if self.tail_share <= 0:
            return None
        return {"rerank": "tailslots", "tail_weight": self.tail_share, "head_share": self.head_share}

    def text_side(self, progress: bool = True) -> TextSide:
        return TextSide(self.encoder, self.max_tokens, self.cache_dir, progress)

    def item_relations(self) -> Relations:
        """The adapter's text-predicted behaviour vectors: cosine between them."""
        self._check_fitted()
        return self.adapter_.item_relations()

    # ------------------------------------------------------------------ persistence
    def _check_state(self, check: StateCheck) -> None:
        check.shape("item_counts_", "items")
        for prefix, part in (("ease.", self.ease_), ("adapter.", self.adapter_)):
            check.problems += part.check_state(check.prefix + prefix)
            if getattr(part, "n_items_", None) != self.n_items_:
                check.problems.append(f"{check.prefix + prefix}n_items_ differs from the hybrid's n_items_")

    def get_state(self) -> dict[str, np.ndarray]:
        out = super().get_state()
        for prefix, part in (("ease.", self.ease_), ("adapter.", self.adapter_)):
            out.update({prefix + key: v for key, v in part.get_state().items()})
        return out

    def set_state(self, state: dict[str, np.ndarray]) -> Hybrid:
        ease, adapter = self._parts()
        self.ease_ = ease.set_state({k[5:]: v for k, v in state.items() if k.startswith("ease.")})
        self.adapter_ = adapter.set_state({k[8:]: v for k, v in state.items() if k.startswith("adapter.")})
        return super().set_state({k: v for k, v in state.items() if "." not in k})
