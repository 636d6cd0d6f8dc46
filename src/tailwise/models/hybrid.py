"""Hybrid: CF where an item has evidence, the language side where it has little.

Scores of the two sides are standardised per user (z-scores over the catalogue), then fused:

- ``"gate"`` (default): ``g_ui = w_i z_cf + (1 - w_i) z_lm`` with ``w_i = (1 - alpha) p_i`` and
  ``p_i = n_i / (n_i + evidence)``, ``n_i`` the item's training interactions. A hit leans on CF
  (``w -> 1 - alpha``); an item with no interactions is scored by the language side alone.
- ``"blend"``: ``(1 - alpha) z_cf + alpha z_lm`` for every item.
- ``"rrf"``: reciprocal-rank fusion ``1 / (60 + rank_cf) + 1 / (60 + rank_lm)``.

Two CF backbones (``backbone``): EASE (a dense items x items model) and factors, which never
form an items x items matrix. The factor backbone is a low-rank ridge regression: with ``V``
and ``s`` the top eigenvectors and eigenvalues of the popularity-normalised co-occurrences
``D^-n X^T X D^-n`` (``n = factor_norm``, from sparse products, :func:`spectral_factors`),
``s_cf(u, i) = (x_u D^-n V diag(s / (s + lambda))) . (v_i c_i^n)``, the closed form of a ridge
autoencoder restricted to those ``factor_dim`` directions, with ``lambda = factor_l2`` times the
mean of that matrix's diagonal (a scale that follows the data). The adapter regresses its
text vectors onto the same ``V``. With the factor
backbone both sides are dot products with the same user vector, so the gated score is one dot
product too (:class:`tailwise.models.fusion.FusedVectors`) and a vector index retrieves the
candidates of a large catalogue. ``"auto"`` (default) takes EASE when its fit fits in the memory
budget and factors otherwise, and records why in ``fit_info_``.

Inside the tail the gate's order is replaced by the tail's own fusion
(:func:`~tailwise.models.fusion.tail_fusion`, EASE backbone): both sides standardised among the
tail items, mixed by ``tail_mix``, and put back where the tail sat. ``alpha``, ``evidence``,
``tail_mix`` and ``tail_share`` left at None (the default) are chosen in ``fit`` on a
validation split carved from the training data (:mod:`tailwise.models.selftune`); the choice
and its validation figures go to ``fit_info_`` and the manifest.

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
from tailwise.models.adapter import Adapter, spectral_factors
from tailwise.models.base import Recommender
from tailwise.models.ease import EASE, ease_bytes, item_gram
from tailwise.models.fusion import FUSED_BYTES, FusedVectors, fused_dim, ranks, tail_fusion, zscore
from tailwise.models.memory import format_bytes
from tailwise.models.params import BIG, MAX_DIM, Int, OneOf, Real, Text, rules
from tailwise.models.relations import Relations
from tailwise.models.selftune import GRID, KEEP, UNTUNED, SelfTuning
from tailwise.models.state import StateCheck
from tailwise.text.side import TextSide

FUSIONS = ("gate", "blend", "rrf")
BACKBONES = ("auto", "ease", "factors")
#: the EASE backbone's penalty: this many interactions' worth, plus EASE_L2_ITEM per interaction
#: of the item (dropout at rate 0.6 on the input, Steck 2020); as accurate as EASE with its
#: penalty tuned per dataset on every shared dataset (``bench/ease_penalty.py``), so no search
EASE_L2 = 150.0
EASE_L2_ITEM = 1.5
#: item text in the EASE backbone's Gram matrix, as this many users who co-consume items by
#: their text similarity (``bench/ease_penalty.py``)
TEXT_WEIGHT = 10.0

__all__ = ["BACKBONES", "FUSIONS", "Hybrid", "fused_dim", "ranks", "zscore"]


def _centred(emb: np.ndarray) -> np.ndarray:
    """Rows minus their mean, scaled to unit length (a zero row stays zero)."""
    out = emb - emb.mean(axis=0, dtype=np.float64).astype(np.float32)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class Hybrid(SelfTuning, Recommender):
    """EASE fused with the text adapter, gated by evidence, with calibrated tail slots.

    Parameters
    ----------
    l2, l2_item : float
        The EASE backbone's penalty, ``l2 + l2_item * n_i`` for an item with ``n_i`` training
        interactions (defaults :data:`EASE_L2` and :data:`EASE_L2_ITEM`, see
        :class:`~tailwise.models.ease.EASE`; ``l2`` None, as older model directories record
        it, is the default).
    fusion : {"gate", "blend", "rrf"}
        How the sides are combined (see the module docstring).
    alpha : float, optional
        Weight of the language side for well-known items (None: chosen in fit).
    evidence : float, optional
        Interactions at which CF gets half its full weight (None: chosen in fit).
    tail_share : float, optional
        Calibrated tail slots, 0 = off (None: chosen in fit).
    tail_mix : float, optional
        CF's weight in the tail's own order (EASE backbone; None: chosen in fit).
    keep_accuracy : float
        Share of the best validation NDCG the chosen settings keep (default 0.99).
    head_share : float
        Share of items counted as head when deciding what is tail (default 0.2).
    backbone : {"auto", "ease", "factors"}
        The CF side (see the module docstring; default ``"auto"``: EASE where it fits the
        memory budget).
    factor_dim : int
        Directions of the factor backbone (default 512). The fused item vectors hold
        ``2 * factor_dim + 2`` floats per item, so a large catalogue lowers it (halving) until
        they take at most :data:`FUSED_BYTES` (128 at a million items); ``fit_info_`` says so.
    factor_norm : float
        Popularity normalisation ``n`` of the factor backbone (default 0.25).
    factor_l2 : float
        Ridge penalty of the factor backbone, relative to the mean diagonal (default 8).
    encoder, factors, adapter_l2, max_tokens, cache_dir
        Passed to :class:`~tailwise.models.adapter.Adapter`.
    """

    name = "hybrid"
    param_rules = rules(
        l2=Real(0, BIG, low_open=True, optional=True), l2_item=Real(0, BIG), text_weight=Real(0, BIG), fusion=OneOf(*FUSIONS), alpha=Real(0, 1, optional=True),
        evidence=Real(0, BIG, low_open=True, optional=True), tail_share=Real(0, 1, optional=True),
        tail_mix=Real(0, 1, optional=True), keep_accuracy=Real(0.5, 1), head_share=Real(0, 1),
        encoder=Text(), factors=Int(1, MAX_DIM), adapter_l2=Adapter.param_rules["l2"],
        max_tokens=Int(1), cache_dir=Text(optional=True), backbone=OneOf(*BACKBONES),
        factor_dim=Int(1, MAX_DIM), factor_norm=Real(0, 2), factor_l2=Real(0, BIG),
    )  # fmt: skip
    _state_keys = ("item_counts_", "backbone_", "cf_filter_", "bias_scale_", "settings_", "tail_")
    _optional_state = ("backbone_", "cf_filter_", "bias_scale_", "settings_", "tail_")
    _nan_allowed = ("settings_",)  # an older directory's tail_mix: the gate's own tail order

    def __init__(
        self,
        l2: float | None = None,
        fusion: str = "gate",
        alpha: float | None = None,
        evidence: float | None = None,
        tail_share: float | None = None,
        head_share: float = 0.2,
        encoder: str = "use",
        factors: int = 256,
        adapter_l2: float = 1.0,
        max_tokens: int = 128,
        cache_dir: str | None = None,
        backbone: str = "auto",
        factor_dim: int = 512,
        factor_norm: float = 0.25,
        factor_l2: float = 8.0,
        tail_mix: float | None = None,
        keep_accuracy: float = KEEP,
        l2_item: float = EASE_L2_ITEM,
        text_weight: float = TEXT_WEIGHT,
    ) -> None:
        self.l2 = l2
        self.l2_item = l2_item
        self.text_weight = text_weight
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
        self.backbone = backbone
        self.factor_dim = factor_dim
        self.factor_norm = factor_norm
        self.factor_l2 = factor_l2
        self.tail_mix = tail_mix
        self.keep_accuracy = keep_accuracy

    def _parts(self) -> tuple[EASE, Adapter]:
        ease = EASE(l2=self.l2_, l2_item=self.l2_item)
        adapter = Adapter(
            encoder=self.encoder, factors=self.factors, l2=self.adapter_l2,
            max_tokens=self.max_tokens, cache_dir=self.cache_dir,
        )  # fmt: skip
        return ease, adapter

    @property
    def l2_(self) -> float:
        """The EASE backbone's penalty ``l2`` in use (given, or :data:`EASE_L2`)."""
        return float(EASE_L2 if self.l2 is None else self.l2)

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        ease, adapter = self._parts()
        for part in (ease, adapter):
            part.n_items_, part.n_users_ = dataset.n_items, dataset.n_users
        adapter.memory_budget_ = getattr(self, "memory_budget_", None)
        self.item_counts_ = np.asarray(dataset.item_counts, dtype=np.float32)
        if "backbone" not in getattr(self, "fit_info_", {}):  # fit() fills it through memory_estimate
            self.check_memory(dataset, getattr(self, "memory_budget_", None))
        self.backbone_ = str(self.fit_info_["backbone"])
        self._settle(dataset, self.fusion == "gate")
        if self.backbone_ == "ease":
            active, gram = item_gram(train)  # one Gram matrix for both sides
            adapter._fit(train, dataset, gram=(active, gram), keep_embeddings=True)  # reads it
            text = _centred(adapter.__dict__.pop("fit_embeddings")[active])
            ease.fit_gram(active, gram, text, self.text_weight)  # then overwrites it
            self.ease_ = ease
            self.cf_filter_ = np.zeros(0, np.float32)  # the factor backbone's only
        else:
            dim = fused_dim(self.factor_dim, dataset.n_items)
            if dim < self.factor_dim:
                self.fit_info_["factor_dim"] = f"{dim} (not {self.factor_dim}: {dataset.n_items:,} items' fused vectors stay within {FUSED_BYTES / 1e9:.1f} GB)"
            v, vals = spectral_factors(train, dim, self.factor_norm, adapter.random_state, sparse=True)
            counts = self.item_counts_[self.item_counts_ > 0]
            lam = self.factor_l2 * float(np.mean(counts ** (1 - 2 * self.factor_norm))) if len(counts) else 0.0
            self.cf_filter_ = (vals / np.maximum(vals + lam, 1e-12)).astype(np.float32)
            adapter._fit(train, dataset, factors=v)
            self.ease_ = None
        self.adapter_ = adapter
        self.bias_scale_ = 0.0  # set by the first fusion, then kept (items added later keep it)
        self._fuse()

    # ------------------------------------------------------------------ memory
    instead = "--param backbone=factors (the hybrid's factor backbone, no items x items matrix)"

    def _ease_need(self, dataset: Dataset) -> tuple[int, int]:
        """(items with interactions, bytes the EASE backbone's fit needs at its peak: EASE's
        own and the adapter's scaled copy of the shared Gram matrix)."""
        n_active = int((np.asarray(dataset.item_counts) > 0).sum())
        return n_active, ease_bytes(n_active, dataset.n_interactions) + 4 * n_active**2

    def memory_estimate(self, dataset: Dataset) -> int | None:
        """The EASE backbone's peak when it is the one to fit (asked for, or ``"auto"`` and
        within ``memory_budget_``); None for the factor backbone, whose memory is linear in
        the data. Records the choice and why in ``fit_info_``."""
        n_active, need = self._ease_need(dataset)
        budget = int(self.memory_budget_)
        if self.backbone != "auto":
            self.fit_info_ = {"backbone": self.backbone, "why": "asked for (--param backbone)"}
            return need if self.backbone == "ease" else None
        fits = need <= budget
        self.fit_info_ = {
            "backbone": "ease" if fits else "factors",
            "why": f"EASE needs about {format_bytes(need)} for {n_active:,} items with interactions, "
            f"{'within' if fits else 'above'} the memory budget of {format_bytes(budget)}",
        }
        return need if fits else None

    def _memory_what(self, dataset: Dataset) -> str:
        n_active, _ = self._ease_need(dataset)
        return f"for {n_active:,} items with interactions (the EASE backbone: a dense items x items matrix)"

    def _fuse(self) -> None:
        """The factor backbone's fused item vectors (nothing for EASE)."""
        if self.backbone_ != "factors" or self.fusion == "rrf":
            self.fused_ = None
            return
        p = self.item_counts_ / (self.item_counts_ + np.float32(self.evidence_))
        w = (1 - self.alpha_) * p if self.fusion == "gate" else np.full_like(p, 1 - self.alpha_)
        a = self.adapter_
        self._pop_cache = {}  # the counts may have changed
        q = a.item_factors_ * self._pop_scale(self.factor_norm)[:, None]
        scale = float(self.bias_scale_) if self.bias_scale_ > 0 else None  # kept from the fit
        self.fused_ = FusedVectors.build(q, a.item_vectors_, w, scale)
        self.bias_scale_ = self.fused_.bias_scale
        self._fused_items = None

    @property
    def dot_product(self) -> bool:
        """Whether the fitted model scores by one dot product (factor backbone, gate or blend
        fusion), so that a vector index can retrieve its candidates."""
        return getattr(self, "fused_", None) is not None

    def user_factors(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """Fused user vectors [len(users), 2d + 2] (factor backbone only, see :attr:`dot_product`)."""
        self._check_fitted()
        rows = sp.csr_matrix(rows)
        return self._need_fused().queries(self._cf_users(rows), self.adapter_.user_vectors(rows), rows)

    def _pop_scale(self, power: float) -> np.ndarray:
        """``c_i^power`` per item, with counts below 1 (items without interactions) as 1;
        kept until the items change (a request must not recompute a million powers)."""
        cache = self.__dict__.get("_pop_cache", {})
        key = (power, len(self.item_counts_))
        value = cache.get(key)
        if value is None:  # copy on write: requests in other threads keep reading the old dict
            value = (np.maximum(self.item_counts_, 1.0) ** power).astype(np.float32)
            self._pop_cache = {**{k: v for k, v in cache.items() if k[1] == key[1]}, key: value}
        return value

    def _cf_users(self, rows: sp.csr_matrix) -> np.ndarray:
        """The factor backbone's user vectors ``x_u D^-n V diag(s / (s + lambda))``."""
        scale = self._pop_scale(-self.factor_norm)
        scaled = sp.csr_matrix((rows.data * scale[rows.indices], rows.indices, rows.indptr), shape=rows.shape)
        return self.adapter_.user_vectors(scaled) * self.cf_filter_

    def item_factors(self) -> np.ndarray:
        """Fused item vectors [n_items, 2d + 2] (factor backbone only; the same array until the
        items change)."""
        self._check_fitted()
        fused = self._need_fused()
        if getattr(self, "_fused_items", None) is None:
            self._fused_items = fused.items()
        return self._fused_items

    def _need_fused(self) -> FusedVectors:
        if not self.dot_product:
            raise TypeError("only the hybrid with the factor backbone and gate or blend fusion scores by dot products")
        return self.fused_

    # ------------------------------------------------------------------ new items
    def add_items(self, texts: list[str]) -> None:
        """Append items placed by the adapter from their text (see the base class).

        A new item has no evidence (``n_i = 0``), so the gate gives its CF side weight 0. EASE
        scores it like an item without interactions at fit time: 0 (it is outside EASE's
        active items), which needs no change to the EASE weights, only a wider score row.
        """
        self._check_fitted()
        adapter = copy.copy(self.adapter_)
        adapter.add_items(texts)
        if self.ease_ is not None:
            ease = copy.copy(self.ease_)
            ease.n_items_ = int(ease.n_items_) + len(texts)
            self.ease_ = ease
        self.adapter_ = adapter
        self.item_counts_ = np.concatenate([self.item_counts_, np.zeros(len(texts), np.float32)])
        if len(getattr(self, "tail_", ())):
            self.tail_ = np.concatenate([self.tail_, np.ones(len(texts), bool)])  # no evidence yet
        self.n_items_ = int(self.n_items_) + len(texts)
        self._fuse()

    def update_item_texts(self, indices: np.ndarray, texts: list[str]) -> None:
        """Place existing items again by the adapter from new texts; their evidence is kept."""
        adapter = copy.copy(self.adapter_)
        adapter.update_item_texts(indices, texts)
        self.adapter_ = adapter
        self._fuse()

    # ------------------------------------------------------------------ scoring
    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        if self.dot_product:
            return self.user_factors(users, rows) @ self.item_factors().T
        cf, lm = self._sides(users, rows)
        if self.fusion == "rrf":
            return (1.0 / (60.0 + ranks(cf)) + 1.0 / (60.0 + ranks(lm))).astype(np.float32)
        zc, zl = zscore(cf, rows), zscore(lm, rows)
        if self.fusion == "blend":
            return (1 - self.alpha_) * zc + self.alpha_ * zl
        p = self.item_counts_ / (self.item_counts_ + np.float32(self.evidence_))
        w = (1 - self.alpha_) * p
        fused = w * zc + (1 - w) * zl
        if not self._tail_order:
            return fused
        return tail_fusion(fused, cf, lm, rows, self.tail_, self.tail_mix_, self.item_counts_ == 0)

    def _sides(self, users: np.ndarray, rows: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """The raw CF and language scores [users, items]."""
        lm = self.adapter_._score(users, rows)
        if self.ease_ is None:  # factor backbone
            return self._cf_users(rows) @ (self.adapter_.item_factors_ * self._pop_scale(self.factor_norm)[:, None]).T, lm
        return self.ease_._score(users, rows), lm

    # ------------------------------------------------------------------ what the stages read
    def default_exposure(self) -> dict[str, object] | None:
        """The calibrated tail slots (:class:`tailwise.rerank.TailSlots`) with ``tail_share`` as
        the knob, or None when ``tail_share`` is 0."""
        if self.tail_share_ <= 0:
            return None
        return {"rerank": "tailslots", "tail_weight": self.tail_share_, "head_share": self.head_share}

    def text_side(self, progress: bool = True) -> TextSide:
        return TextSide(self.encoder, self.max_tokens, self.cache_dir, progress)

    def item_relations(self) -> Relations:
        """The adapter's text-predicted behaviour vectors: cosine between them."""
        self._check_fitted()
        return self.adapter_.item_relations()

    # ------------------------------------------------------------------ persistence
    def _parts_fitted(self) -> tuple[tuple[str, Recommender], ...]:
        parts = (("ease.", self.ease_), ("adapter.", self.adapter_))
        return tuple((prefix, part) for prefix, part in parts if part is not None)

    def _check_state(self, check: StateCheck) -> None:
        check.shape("item_counts_", "items")
        if str(self.backbone_) not in BACKBONES[1:]:
            check.problems.append(f"{check.prefix}backbone_ is {str(self.backbone_)!r}, not one of {', '.join(BACKBONES[1:])}")
        if str(self.backbone_) == "ease" and self.ease_ is None:
            check.problems.append(f"{check.prefix}ease.* arrays are missing for the EASE backbone")
        for prefix, part in self._parts_fitted():
            check.problems += part.check_state(check.prefix + prefix)
            if getattr(part, "n_items_", None) != self.n_items_:
                check.problems.append(f"{check.prefix + prefix}n_items_ differs from the hybrid's n_items_")

    def get_state(self) -> dict[str, np.ndarray]:
        out = super().get_state()
        for prefix, part in self._parts_fitted():
            out.update({prefix + key: v for key, v in part.get_state().items()})
        return out

    def set_state(self, state: dict[str, np.ndarray]) -> Hybrid:
        ease, adapter = self._parts()
        ease_state = {k[5:]: v for k, v in state.items() if k.startswith("ease.")}
        self.ease_ = ease.set_state(ease_state) if ease_state else None
        self.adapter_ = adapter.set_state({k[8:]: v for k, v in state.items() if k.startswith("adapter.")})
        super().set_state({k: v for k, v in state.items() if "." not in k})
        self.backbone_ = str(state["backbone_"]) if "backbone_" in state else "ease"  # older directories
        if "cf_filter_" not in state:
            self.cf_filter_ = np.zeros(0, np.float32)
        if "bias_scale_" not in state:
            self.bias_scale_ = 0.0
        if "settings_" not in state:  # older directories: the given settings, the gate's tail order
            self.settings_ = np.array([UNTUNED[n] if getattr(self, n) is None else getattr(self, n) for n in GRID], np.float64)
            self.settings_[list(GRID).index("tail_mix")] = np.nan
        if "tail_" not in state:
            self.tail_ = np.zeros(0, bool)
        self.tail_ = np.asarray(self.tail_, dtype=bool)
        if hasattr(self.adapter_, "item_vectors_") and hasattr(self, "item_counts_"):
            self._fuse()
        return self
