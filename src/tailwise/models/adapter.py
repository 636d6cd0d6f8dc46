"""Adapter: maps what the language model reads in item text into the behaviour space of CF.

The behaviour space is spanned by the top eigenvectors of the popularity-normalised item
co-occurrence matrix (``V``, PureSVD-style item factors learned from interactions). A kernel
ridge regression over the item-text views (:mod:`tailwise.text.features`) predicts each
item's ``V`` row from its text alone, so *every* item, including items without any interaction,
gets a behaviour-space vector ``v_hat_i``. The text encoder stays frozen.

A user is ``x_u V`` (its history in the behaviour space; unknown users fold in the same way),
and ``score(u, i) = x_u V v_hat_i``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.ease import item_gram
from tailwise.models.params import BIG, MAX_DIM, MAX_SEED, Flag, Int, Real, Text, rules
from tailwise.models.relations import VectorRelations
from tailwise.models.state import StateCheck
from tailwise.text.features import ItemFeatures
from tailwise.text.side import TextSide

#: items per block when the kernel against the anchors is applied to the whole catalogue
KERNEL_BLOCK = 16_384


def gram_fits(train: sp.csr_matrix, budget: int | None) -> bool:
    """Whether the dense Gram matrix of the items with interactions (and its scaled copy, two
    float32 ``n_active^2`` arrays) fits in `budget` bytes (None: no budget, it fits)."""
    n_active = int((np.diff(train.tocsc().indptr) > 0).sum())
    return budget is None or 2 * 4 * n_active**2 <= budget


def spectral_factors(
    train: sp.csr_matrix,
    factors: int,
    norm: float,
    seed: int,
    gram: tuple[np.ndarray, np.ndarray] | None = None,
    sparse: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Item factors ``V`` [n_items, factors], the top eigenvectors of ``D^-norm X^T X D^-norm``,
    and their eigenvalues (descending).

    Randomised subspace iteration (Halko et al. 2011), then an exact eigen-decomposition in the
    subspace, over the items with interactions; items without any get zero rows. The products
    with ``X^T X`` run on the dense Gram matrix of those items (`gram`: ``(active, X_a^T X_a)``
    from :func:`~tailwise.models.ease.item_gram` when the caller has it; it is only read), or
    with `sparse` as two sparse products ``X^T (X q)`` that never form an items x items matrix
    (the right singular vectors of ``X D^-norm``: the same subspace, memory linear in the log).
    """
    if sparse and gram is None:
        active = np.flatnonzero(np.diff(train.tocsc().indptr) > 0)
        g = None
    else:
        active, g = item_gram(train) if gram is None else gram
    counts = np.asarray(train.sum(axis=0)).ravel()[active]
    scale = (np.maximum(counts, 1.0) ** -norm).astype(np.float32)
    if g is None:
        x = sp.csr_matrix(train[:, active] @ sp.diags(scale), dtype=np.float32)
        xt = sp.csr_matrix(x.T)

        def times_gram(q: np.ndarray) -> np.ndarray:
            return np.asarray(xt @ np.asarray(x @ q), dtype=np.float32)

        def in_subspace(q: np.ndarray) -> np.ndarray:
            xq = np.asarray(x @ q)
            return xq.T @ xq
    else:
        scaled = g * scale[:, None]
        scaled *= scale[None, :]

        def times_gram(q: np.ndarray) -> np.ndarray:
            return scaled @ q

        def in_subspace(q: np.ndarray) -> np.ndarray:
            return q.T @ scaled @ q

    k = min(factors, max(len(active) - 1, 1))
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((len(active), k + 10)).astype(np.float32)
    for _ in range(3):
        y = times_gram(q)
        # tall-skinny QR on one thread: OpenBLAS's threaded QR stalls when the cores are busy
        with threadpool_limits(1, "blas"):
            q, _ = np.linalg.qr(y)
    small = in_subspace(q)
    with threadpool_limits(1, "blas"):
        vals, vecs = np.linalg.eigh(small)
    order = np.argsort(vals)[::-1][:k]
    v = np.zeros((train.shape[1], k), dtype=np.float32)
    v[active] = q @ vecs[:, order]
    return v, vals[order].astype(np.float32)


class Adapter(Recommender):
    """Language-model item vectors mapped into the CF behaviour space by kernel ridge.

    Parameters
    ----------
    encoder : str
        Text encoder spec (default ``"use"``, the NumPy Universal Sentence Encoder).
    factors : int
        Dimension of the behaviour space (default 256).
    norm : float
        Popularity normalisation of the co-occurrences, ``D^-norm`` (default 0.5).
    l2 : float
        Kernel ridge penalty (default 1.0).
    tfidf, year : bool
        Use the TF-IDF and year views of the item text besides the embedding (default True;
        the year view switches itself off when under half of the texts carry a year).
    max_tokens : int
        Token budget per item text (default 128).
    max_anchors : int
        At most this many items with interactions (the most interacted-with) anchor the kernel
        ridge, so memory is ``n_items * max_anchors`` floats and time ``O(max_anchors^3)``
        whatever the catalogue size (default 5000).
    cache_dir : str, optional
        Embedding cache folder.
    random_state : int
        Seed of the randomised eigen-decomposition.
    """

    name = "adapter"
    param_rules = rules(
        encoder=Text(), factors=Int(1, MAX_DIM), norm=Real(0, 2), l2=Real(0, BIG, low_open=True),
        tfidf=Flag(), year=Flag(), max_tokens=Int(1), max_anchors=Int(1),
        cache_dir=Text(optional=True), random_state=Int(0, MAX_SEED),
    )  # fmt: skip
    _state_keys = (
        "item_factors_", "item_vectors_", "dual_", "anchor_emb_", "anchor_year_", "text_state_",
        "anchor_tfidf_data_", "anchor_tfidf_indices_", "anchor_tfidf_indptr_", "anchor_tfidf_cols_",
    )  # fmt: skip
    _nan_allowed = ("anchor_year_",)  # an anchor item whose text has no year

    def __init__(
        self,
        encoder: str = "use",
        factors: int = 256,
        norm: float = 0.5,
        l2: float = 1.0,
        tfidf: bool = True,
        year: bool = True,
        max_tokens: int = 128,
        max_anchors: int = 5000,
        cache_dir: str | None = None,
        random_state: int = 42,
    ) -> None:
        self.encoder = encoder
        self.factors = factors
        self.norm = norm
        self.l2 = l2
        self.tfidf = tfidf
        self.year = year
        self.max_tokens = max_tokens
        self.max_anchors = max_anchors
        self.cache_dir = cache_dir
        self.random_state = random_state

    def text_side(self, progress: bool = True) -> TextSide:
        return TextSide(self.encoder, self.max_tokens, self.cache_dir, progress)

    def item_relations(self) -> VectorRelations:
        return VectorRelations(self.item_vectors_)

    def _fit(
        self,
        train: sp.csr_matrix,
        dataset: Dataset,
        gram: tuple[np.ndarray, np.ndarray] | None = None,
        sparse: bool | None = None,
        factors: np.ndarray | None = None,
        keep_embeddings: bool = False,
    ) -> None:
        """Fit; `gram` is the Gram matrix when the caller has one (the hybrid's EASE backbone),
        `sparse` forces the factors from sparse products (None: when the dense Gram matrix of
        the items with interactions would not fit the memory budget), `factors` gives the
        behaviour factors ``V`` themselves (the hybrid's factor backbone computes them);
        `keep_embeddings` leaves the items' text embeddings in ``fit_embeddings``."""
        if sparse is None:
            sparse = gram is None and not gram_fits(train, getattr(self, "memory_budget_", None))
        # the factors first: their scaled copy of the Gram matrix is gone before the kernel comes
        v = factors if factors is not None else spectral_factors(train, self.factors, self.norm, self.random_state, gram, sparse)[0]
        counts = np.diff(train.tocsc().indptr)
        warm = np.flatnonzero(counts > 0)
        if len(warm) > self.max_anchors:
            warm = np.sort(warm[np.argsort(-counts[warm], kind="stable")[: self.max_anchors]])
        # only the anchors' columns of a cached kernel are read: [n_items, n_warm]
        feats, state, k_all = self.text_side().features_and_kernel(dataset.texts(), self.tfidf, self.year, columns=warm)
        anchors = feats.subset(warm)
        if k_all is None and len(feats.embeddings) > KERNEL_BLOCK:
            self._fit_blocks(feats, anchors, v[warm])
        else:
            k_all = feats.kernel(anchors) if k_all is None else k_all
            k_ww = k_all[warm]
            k_ww[np.diag_indices_from(k_ww)] += np.float32(self.l2)
            dual = sla.solve(k_ww, v[warm], assume_a="pos", overwrite_a=True, check_finite=False)
            self.item_vectors_ = (k_all @ dual).astype(np.float32)
            self.dual_ = dual.astype(np.float32)
        self.item_factors_ = v
        self._keep_anchors(anchors, state)
        if keep_embeddings:  # for the caller (the hybrid's EASE backbone); not state
            self.fit_embeddings = feats.embeddings

    def _fit_blocks(self, feats: ItemFeatures, anchors: ItemFeatures, targets: np.ndarray) -> None:
        """The kernel ridge for a large catalogue: the anchors' own kernel is solved, then the
        whole catalogue's kernel against the anchors is applied block by block, so memory is
        ``KERNEL_BLOCK * n_anchors`` floats, never ``n_items * n_anchors``."""
        k_ww = anchors.kernel(anchors)
        k_ww[np.diag_indices_from(k_ww)] += np.float32(self.l2)
        dual = sla.solve(k_ww, targets, assume_a="pos", overwrite_a=True, check_finite=False).astype(np.float32)
        n = len(feats.embeddings)
        out = np.empty((n, dual.shape[1]), dtype=np.float32)
        for start in range(0, n, KERNEL_BLOCK):
            rows = np.arange(start, min(start + KERNEL_BLOCK, n))
            out[rows] = feats.subset(rows).kernel(anchors) @ dual
        self.item_vectors_, self.dual_ = out, dual

    def _keep_anchors(self, anchors: ItemFeatures, state: dict[str, np.ndarray]) -> None:
        """What `vectors_for_texts` needs to place new items: the warm items' views."""
        self.anchor_emb_ = anchors.embeddings
        t = anchors.tfidf if anchors.tfidf is not None else sp.csr_matrix((len(anchors.embeddings), 0))
        self.anchor_tfidf_data_, self.anchor_tfidf_indices_ = t.data, t.indices
        self.anchor_tfidf_indptr_, self.anchor_tfidf_cols_ = t.indptr, np.asarray(t.shape[1])
        self.anchor_year_ = np.asarray([] if anchors.year is None else anchors.year, dtype=np.float64)
        self.text_state_ = np.asarray(sorted(state), dtype=str)
        for key, value in state.items():
            setattr(self, f"text_{key}_", value)

    def _check_state(self, check: StateCheck) -> None:
        check.shape("item_factors_", "items", "factors")
        check.shape("item_vectors_", "items", "factors")
        check.shape("dual_", "anchors", "factors")
        check.shape("anchor_emb_", "anchors", "text_dim")
        check.csr("anchor_tfidf_data_", "anchor_tfidf_indices_", "anchor_tfidf_indptr_", "anchors", int(self.anchor_tfidf_cols_))
        missing = [k for k in np.asarray(self.text_state_).tolist() if not hasattr(self, f"text_{k}_")]
        if missing:
            check.problems.append(f"the array {check.prefix}text_{missing[0]}_ is missing")

    def get_state(self) -> dict[str, np.ndarray]:
        out = super().get_state()
        for key in self.text_state_.tolist():
            out[f"text_{key}_"] = getattr(self, f"text_{key}_")
        return out

    def _anchors(self) -> ItemFeatures:
        cols = int(self.anchor_tfidf_cols_)
        tf = None
        if cols:
            arrays = (self.anchor_tfidf_data_, self.anchor_tfidf_indices_, self.anchor_tfidf_indptr_)
            tf = sp.csr_matrix(arrays, shape=(len(self.anchor_emb_), cols))
        year = self.anchor_year_ if len(self.anchor_year_) else None
        return ItemFeatures(self.anchor_emb_, tf, year)

    def vectors_for_texts(self, texts: list[str]) -> np.ndarray:
        """Behaviour-space vectors of new items from their text alone (no refit)."""
        return self._vectors(texts, progress=True)

    def _vectors(self, texts: list[str], progress: bool) -> np.ndarray:
        self._check_fitted()
        state = {k: getattr(self, f"text_{k}_") for k in self.text_state_.tolist()}
        feats = self.text_side(progress).features_like(texts, state)
        return (feats.kernel(self._anchors()) @ self.dual_).astype(np.float32)

    # ------------------------------------------------------------------ new items
    def _place(self, texts: list[str]) -> np.ndarray:
        """:meth:`vectors_for_texts` without a progress bar, for items added while serving."""
        self.text_side(progress=False).require_placeable()
        return self._vectors(texts, progress=False)

    def add_items(self, texts: list[str]) -> None:
        """Append items placed by their text: ``v_hat`` from :meth:`vectors_for_texts`.

        Until a refit learns a behaviour factor for a new item, ``v_hat`` stands in for it too,
        so a user whose history holds new items is placed by their text. (Items without
        interactions at fit time keep their zero factor.)
        """
        vec = self._place(texts)
        self.item_vectors_ = np.vstack([self.item_vectors_, vec])
        self.item_factors_ = np.vstack([self.item_factors_, vec])
        self.n_items_ = int(self.n_items_) + len(texts)

    def update_item_texts(self, indices: np.ndarray, texts: list[str]) -> None:
        """Place existing items again from new texts; learned behaviour factors are kept, the
        stand-in factors of added items follow their new text."""
        indices = np.asarray(indices, dtype=np.int64)
        vec = self._place(texts)
        from_text = (self.item_factors_[indices] == self.item_vectors_[indices]).all(axis=1)
        vectors = self.item_vectors_.copy()
        vectors[indices] = vec
        if from_text.any():
            factors = self.item_factors_.copy()
            factors[indices[from_text]] = vec[from_text]
            self.item_factors_ = factors
        self.item_vectors_ = vectors

    def user_vectors(self, rows: sp.csr_matrix) -> np.ndarray:
        """Users in the behaviour space: their history rows times the item factors."""
        return np.asarray(rows @ self.item_factors_, dtype=np.float32)

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return self.user_vectors(rows) @ self.item_vectors_.T

    def user_factors(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """User vectors float32 [len(users), d] with ``scores = user_factors @ item_factors().T``
        (:meth:`user_vectors`; every user is placed from its `rows`)."""
        self._check_fitted()
        return self.user_vectors(sp.csr_matrix(rows))

    def item_factors(self) -> np.ndarray:
        """The items' text-predicted behaviour vectors ``v_hat`` (``item_vectors_``, not a copy)."""
        self._check_fitted()
        return self.item_vectors_
