"""Fusing a CF score with a language score, per user: z-scores, ranks and fused vectors.

The hybrid standardises each side per user over the catalogue (the user's history left out)
and mixes them item by item with the evidence gate ``w_i``:

    g_ui = w_i (s_cf - m_cf) / sd_cf + (1 - w_i) (s_lm - m_lm) / sd_lm

With the EASE backbone the sides are dense score rows and :func:`zscore` standardises them.
With the factor backbone both sides are dot products, ``s_cf = a_u . q_i`` and
``s_lm = a_u . l_i``, so a user's mean and deviation over the catalogue follow exactly from the
column sums and the ``d x d`` second-moment matrix of the item vectors (minus the history's own
terms), and the fused score is itself one dot product (:class:`FusedVectors`):

    g_ui = [a_u / sd_cf, a_u / sd_lm, -m_cf / sd_cf, -m_lm / sd_lm] . [w_i q_i, (1 - w_i) l_i, w_i, 1 - w_i]

That is what lets a vector index (exact or ANN) retrieve the hybrid's candidates at a million
items without scoring every one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: a row whose deviation is below this share of its mean is constant up to rounding
FLAT = 1e-5


#: the most memory the factor backbone's fused item vectors may take (float32)
FUSED_BYTES = 1_500_000_000


def fused_dim(dim: int, n_items: int) -> int:
    """`dim`, halved until ``n_items`` fused vectors of ``2 * dim + 2`` float32 fit in
    :data:`FUSED_BYTES` (at least 32).

    >>> fused_dim(512, 10_000), fused_dim(512, 1_000_000)
    (512, 128)
    """
    while dim > 32 and n_items * (2 * dim + 2) * 4 > FUSED_BYTES:
        dim //= 2
    return dim


def zscore(scores: np.ndarray, rows: sp.csr_matrix | None = None, over: np.ndarray | None = None) -> np.ndarray:
    """Per-row standardisation over the items not in `rows` (the user's history).

    The history items are left out of the mean and deviation (they are never recommended and
    would skew both), but standardised like every other item. ``-inf`` stays ``-inf``. A row
    whose deviation is below ``1e-5`` of its mean (constant up to rounding) is only centred.
    `over` (bool per item) restricts the mean and deviation to those items (all are scaled).
    """
    finite = np.isfinite(scores)
    valid = finite & over[None, :] if over is not None else finite.copy()
    if rows is not None:
        r, c = rows.nonzero()
        valid[r, c] = False
    # the mean and deviation over the valid items, as np.nanmean / np.nanstd compute them (the
    # same float32 sums), without their copies
    x = np.where(valid, scores, 0).astype(np.float32, copy=False)
    n = valid.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # a row without valid items: NaN
        mean = (x.sum(axis=1, keepdims=True) / n).astype(np.float32)
        np.subtract(x, mean, out=x)
        x[~valid] = 0
        std = np.sqrt(((x * x).sum(axis=1, keepdims=True) / n).astype(np.float32))
    mean = np.nan_to_num(mean)
    # a row that is constant up to rounding (a side that cannot tell items apart) stays flat:
    # dividing its rounding noise by an equally tiny deviation would turn noise into scores
    flat = ~(std > FLAT * np.abs(mean))
    out = np.subtract(scores, mean, dtype=np.result_type(scores, mean))
    out /= np.where(flat, 1.0, std)
    out = out.astype(np.float32, copy=False)
    out[~finite] = -np.inf
    return out


def tail_fusion(
    fused: np.ndarray, cf: np.ndarray, lm: np.ndarray, rows: sp.csr_matrix | None, tail: np.ndarray, mix: float,
    cold: np.ndarray | None = None,
) -> np.ndarray:
    """Re-order the tail items of `fused` by their own fusion, keeping where they sit overall.

    Over the catalogue a tail item's CF score is small next to a hit's, so a catalogue-wide
    z-score compresses its CF side and the language side decides the tail's order alone. Here
    both sides are standardised among the tail items only and mixed,
    ``t = mix * z_T(cf) + (1 - mix) * z_T(lm)`` (standardised among the tail items with
    interactions); an item without interactions (`cold`, bool per item) has no CF side to mix
    and takes ``z_T(lm)`` alone. ``t`` is standardised again and mapped onto the fused scores'
    own mean and deviation over the tail, so the tail keeps its place against the head and
    only its inner order changes. Returns a new array.
    """
    if not tail.any():
        return fused
    seen = sp.csr_matrix(rows)[:, tail] if rows is not None else None
    t = tail_order(cf, lm, rows, tail, mix, cold, seen)
    part = np.where(np.isfinite(fused[:, tail]), fused[:, tail], np.nan)
    if seen is not None:
        part[seen.nonzero()] = np.nan
    mean = np.nan_to_num(np.nanmean(part, axis=1, keepdims=True))
    std = np.nan_to_num(np.nanstd(part, axis=1, keepdims=True))
    out = fused.copy()
    out[:, tail] = np.where(np.isfinite(t), mean + std * t, -np.inf)
    return out.astype(np.float32)


def tail_order(
    cf: np.ndarray, lm: np.ndarray, rows: sp.csr_matrix | None, tail: np.ndarray, mix: float,
    cold: np.ndarray | None = None, seen: sp.csr_matrix | None = None,
) -> np.ndarray:
    """The tail's own order scores [users, tail items], standardised (see :func:`tail_fusion`);
    `seen` is `rows` restricted to the tail's columns."""
    return TailSides.of(cf, lm, rows, tail, cold).order(mix, seen)


@dataclass(frozen=True)
class TailSides:
    """The two sides standardised among the tail items (what :func:`tail_order` mixes), kept
    so that several mixes cost one standardisation of each side."""

    zc: np.ndarray | None  # [users, tail items]: CF standardised among the warm tail (None: no warm item)
    zl: np.ndarray  # [users, tail items]: the language side standardised among the tail
    warm: np.ndarray  # bool [tail items]: with training interactions

    @classmethod
    def of(cls, cf, lm, rows, tail, cold=None) -> TailSides:
        warm = tail & ~cold if cold is not None else tail
        zl = zscore(lm, rows, tail)[:, tail]
        zc = zscore(cf, rows, warm)[:, tail] if warm.any() else None
        return cls(zc, zl, warm[tail])

    def order(self, mix: float, seen: sp.csr_matrix | None) -> np.ndarray:
        if self.zc is None:
            return zscore(self.zl, seen)
        t = zscore(mix * self.zc + (1 - mix) * self.zl, seen, self.warm)
        if not self.warm.all():
            t = np.where(self.warm[None, :], t, self.zl)
        return zscore(t, seen)


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each item in its row (1 = best)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return out


@dataclass(frozen=True)
class Moments:
    """Column sums and second moments of item vectors ``V`` [n, d]: what a user's mean and
    deviation over the catalogue need. Float64, so sums over a million items stay exact enough."""

    n: int
    total: np.ndarray  # [d]: sum_i v_i
    second: np.ndarray  # [d, d]: sum_i v_i v_i^T

    @classmethod
    def of(cls, vectors: np.ndarray, step: int = 65_536) -> Moments:
        d = vectors.shape[1]
        total, second = np.zeros(d), np.zeros((d, d))
        for start in range(0, len(vectors), step):
            block = vectors[start : start + step].astype(np.float64)
            total += block.sum(axis=0)
            second += block.T @ block
        return cls(len(vectors), total, second)

    def plus(self, vectors: np.ndarray) -> Moments:
        """The moments with `vectors` appended (items added after the fit)."""
        extra = Moments.of(vectors)
        return Moments(self.n + extra.n, self.total + extra.total, self.second + extra.second)

    def user_stats(
        self, users: np.ndarray, rows: sp.csr_matrix, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and deviation of ``users @ vectors.T`` per row over the items outside each
        row's history (``rows``), without forming the scores."""
        u = users.astype(np.float64)
        total = u @ self.total
        sq = np.einsum("ud,de,ue->u", u, self.second, u)
        n = np.full(len(u), float(self.n))
        if rows.nnz:
            r, c = rows.nonzero()
            seen = np.einsum("kd,kd->k", u[r], vectors[c].astype(np.float64))
            total -= np.bincount(r, seen, len(u))
            sq -= np.bincount(r, seen**2, len(u))
            n -= np.bincount(r, minlength=len(u))
        n = np.maximum(n, 1.0)
        mean = total / n
        var = np.maximum(sq / n - mean**2, 0.0)
        std = np.sqrt(var)
        std = np.where(std > FLAT * np.abs(mean), std, 1.0)
        return mean, std


@dataclass(frozen=True)
class FusedVectors:
    """The gated fusion of two dot-product sides as one dot product (see the module docstring).

    ``cf`` and ``lm`` are the item vectors of the two sides [n, d] (each scored by its side's user
    vector), ``weight`` the CF weight ``w_i`` of each item [n]. :meth:`items` is the fused item
    matrix [n, 2d + 2] and :meth:`queries` the users' fused vectors, so that
    ``queries @ items.T`` is the fused score of every item.

    The two constant columns are scaled by `bias_scale` in the items and by its inverse in the
    queries (the scores do not change): at the scale of the other columns, they would dominate
    the inner products between items that an HNSW graph is built from, and its search would
    miss the best items. :func:`bias_scale` gives the scale that matches the columns' sizes.
    """

    cf: np.ndarray
    lm: np.ndarray
    weight: np.ndarray
    cf_moments: Moments
    lm_moments: Moments
    bias_scale: float = 1.0

    @classmethod
    def build(
        cls, cf: np.ndarray, lm: np.ndarray, weight: np.ndarray, scale: float | None = None
    ) -> FusedVectors:
        """`scale`: the bias columns' scale (None: :func:`bias_scale` of these vectors)."""
        weight = weight.astype(np.float32)
        scale = bias_scale(cf, lm, weight) if scale is None else scale
        return cls(cf, lm, weight, Moments.of(cf), Moments.of(lm), float(scale))

    def items(self, step: int = 65_536) -> np.ndarray:
        """The fused item matrix [n, 2d + 2], filled block by block (no full-size temporaries)."""
        n, d = self.cf.shape
        out = np.empty((n, 2 * d + 2), dtype=np.float32)
        b = np.float32(self.bias_scale)
        for s in range(0, n, step):
            w = self.weight[s : s + step, None]
            np.multiply(w, self.cf[s : s + step], out=out[s : s + step, :d])
            np.multiply(1 - w, self.lm[s : s + step], out=out[s : s + step, d : 2 * d])
            out[s : s + step, 2 * d] = b * w[:, 0]
            out[s : s + step, 2 * d + 1] = b * (1 - w[:, 0])
        return out

    def queries(
        self, cf_users: np.ndarray, lm_users: np.ndarray, rows: sp.csr_matrix
    ) -> np.ndarray:
        """The fused user vectors from each side's user vectors [len, d] and history `rows`."""
        m_cf, s_cf = self.cf_moments.user_stats(cf_users, rows, self.cf)
        m_lm, s_lm = self.lm_moments.user_stats(lm_users, rows, self.lm)
        c, u = cf_users.astype(np.float64), lm_users.astype(np.float64)
        bias = np.stack([-m_cf / s_cf, -m_lm / s_lm], axis=1) / self.bias_scale
        return np.hstack([c / s_cf[:, None], u / s_lm[:, None], bias]).astype(np.float32)


def bias_scale(cf: np.ndarray, lm: np.ndarray, weight: np.ndarray, sample: int = 100_000) -> float:
    """The scale that gives the fused vectors' two bias columns the root-mean-square size of
    their other columns (measured on at most `sample` items)."""
    step = max(1, len(weight) // sample)
    w = weight[::step, None].astype(np.float64)
    rest = np.concatenate([(w * cf[::step]).ravel(), ((1 - w) * lm[::step]).ravel()])
    bias = np.concatenate([w.ravel(), 1 - w.ravel()])
    rms_rest, rms_bias = np.sqrt(np.mean(rest**2)), np.sqrt(np.mean(bias**2))
    return float(rms_rest / rms_bias) if rms_rest > 0 and rms_bias > 0 else 1.0
