"""The hybrid's self-tuning: its fusion and exposure settings chosen on a validation split.

Four settings decide what the hybrid shows, and their best values differ by domain:
``alpha`` and ``evidence`` (the gate, see :mod:`tailwise.models.hybrid`), ``tail_mix`` (how the
tail's own order mixes CF and text, :func:`tailwise.models.fusion.tail_fusion`) and
``tail_share`` (the strength of the default exposure stage, the calibrated tail slots). None of
them changes a fitted weight, so one fit on the training data minus a validation split (a
random :data:`VALIDATION_SHARE` of each user's interactions, :func:`validation_split`) and
one scoring of the validation users are enough; every combination of :data:`GRID` is then a
re-mix of those scores.

The rule (:func:`choose`): the anchor is the validation NDCG@20 of the behaviour model without
text (what the user would get from EASE with the same penalty; with the factor backbone, the CF
side alone), and the *tail floor* is what the text has to earn: twice the CF side's own
validation tail recall@20 (with the text in its Gram matrix), and at least the language side's
alone. Among the combinations whose validation NDCG@20 keeps at least ``keep`` (default
:data:`KEEP`) of the anchor, take the most accurate one that reaches the floor; when none
does, the one with the highest tail recall (ties: the higher NDCG); when none keeps ``keep``
of the anchor, the most accurate one. So the hybrid is as accurate as the model without text
within about 1%, doubles its CF side's tail recall where it can without giving away more
accuracy than that takes, and otherwise spends what accuracy the text adds on the long tail.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tailwise import metrics as M
from tailwise.data.dataset import Dataset
from tailwise.data.popularity import tail_mask
from tailwise.data.splits import Split, random_holdout
from tailwise.models.fusion import TailSides, zscore
from tailwise.ranking import merge_lists, tail_slot_counts, tail_slot_positions, top_k

logger = logging.getLogger(__name__)

#: the settings the hybrid tunes, and the values it tries
GRID: Mapping[str, tuple[float, ...]] = {
    "alpha": (0.0, 0.2, 0.4, 0.6),
    "evidence": (3.0, 10.0, 30.0),
    "tail_mix": (0.5, 0.75, 1.0),
    "tail_share": (0.0, 0.25, 0.5, 0.75, 1.0),
}
#: the settings used when tuning is off or not possible (the defaults before self-tuning)
UNTUNED: Mapping[str, float] = {"alpha": 0.4, "evidence": 10.0, "tail_mix": 0.5, "tail_share": 0.5}
#: share of each user's training interactions held out for validation
VALIDATION_SHARE = 0.2
#: share of the CF side's own validation NDCG that the chosen settings must keep
KEEP = 0.99
#: list length the settings are judged at
K = 20
#: at most this many validation users, and at most this many user x item scores at once
MAX_USERS = 1000
MAX_CELLS = 30_000_000
#: below this many validation users the split says too little: the untuned settings are used
MIN_USERS = 200


@dataclass(frozen=True)
class Choice:
    """What :func:`choose` picked and the validation figures behind it."""

    settings: dict[str, float]
    ndcg: float
    tail_recall: float
    anchor: float
    users: int
    tried: int
    #: the tail recall the text had to earn: max(2 x the CF side's, the language side's alone)
    floor: float = 0.0
    #: every setting tried: (settings, validation NDCG@K, validation tail recall@K)
    table: tuple[tuple[dict[str, float], float, float], ...] = ()

    def describe(self) -> str:
        """One line for the terminal and the manifest."""
        chosen = ", ".join(f"{k}={v:g}" for k, v in self.settings.items())
        return (
            f"{chosen} (validation on {self.users:,} users, {self.tried} settings tried: NDCG@{K} "
            f"{self.ndcg:.4f}, {self.ndcg / self.anchor:.1%} of the model without text, {self.anchor:.4f}; tail recall@{K} {self.tail_recall:.4f}, "
            f"{'at least' if self.tail_recall >= self.floor else 'below'} twice the CF side's and the text's own, {self.floor:.4f})"
        )


def validation_split(dataset: Dataset, seed: int) -> Split:
    """A random :data:`VALIDATION_SHARE` of each user's interactions held out (seeded)."""
    return random_holdout(dataset, VALIDATION_SHARE, seed)


def validation_users(train: sp.csr_matrix, truth: sp.csr_matrix, n_items: int, seed: int) -> np.ndarray:
    """Users with both a training and a held-out interaction, at most :data:`MAX_USERS` and at
    most :data:`MAX_CELLS` scores' worth, drawn at random (seeded); sorted."""
    users = np.flatnonzero((np.diff(truth.indptr) > 0) & (np.diff(train.indptr) > 0))
    cap = int(min(MAX_USERS, MAX_CELLS // max(n_items, 1)))
    if len(users) > cap:
        users = np.sort(np.random.default_rng(seed).choice(users, cap, replace=False))
    return users


def _plain(scores: np.ndarray, rows: sp.csr_matrix, judge: _Judge) -> tuple[float, float]:
    """Validation NDCG@K and tail recall@K of ranking by `scores` alone (the history left out)."""
    plain = np.array(scores, dtype=np.float32, copy=True)
    plain[rows.nonzero()] = -np.inf
    return judge(top_k(plain, K)[0])


class _Judge:
    """Mean NDCG@K and tail recall@K of the validation users' lists (:func:`metrics.ndcg`,
    :func:`metrics.tail_recall`) from one look-up of the hits per list."""

    def __init__(self, truth: sp.csr_matrix, tail: np.ndarray) -> None:
        self.truth, self.tail, self.n_rel = truth, tail, np.diff(truth.indptr)

    def __call__(self, recs: np.ndarray) -> tuple[float, float]:
        recs = recs[:, :K]
        h = M.hits(recs, self.truth)
        ndcg = float(np.nanmean(M.ndcg_of_hits(h, self.n_rel)))
        tail = M.recall_within_hits(h, recs, self.truth, self.tail)
        return ndcg, float(np.nanmean(tail)) if np.isfinite(tail).any() else 0.0


def _tail_tops(cf, lm, rows, tail, seen, mixes, cold) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Per mix, the top K tail items (indices into the tail) by the tail's own order
    (:func:`~tailwise.models.fusion.tail_order`) and their standardised scores."""
    seen_t = seen[:, tail]
    sides, seen_rows = TailSides.of(cf, lm, rows, tail, cold), sp.csr_matrix(seen_t)
    out = {}
    for mix in mixes:
        t = sides.order(mix, seen_rows)
        t[seen_t] = -np.inf
        out[mix] = top_k(t, K)
    return out


class _TailMoments:
    """Each user's mean and deviation of the gate's fused scores over the tail items not seen,
    for any gate weights, from sums computed once (what :func:`tail_fusion` maps onto)."""

    def __init__(self, zc: np.ndarray, zl: np.ndarray, free: np.ndarray) -> None:
        zc, zl = np.where(free, zc, 0).astype(np.float32), np.where(free, zl, 0).astype(np.float32)
        self.zc, self.zl, self.n = zc, zl, np.maximum(free.sum(axis=1), 1)
        self.cc, self.cl, self.ll = zc * zc, zc * zl, zl * zl

    def of(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = w.astype(np.float32)
        mean = (self.zc @ w + self.zl @ (1 - w)).astype(np.float64) / self.n
        second = (self.cc @ (w * w) + 2 * self.cl @ (w * (1 - w)) + self.ll @ ((1 - w) ** 2)).astype(np.float64) / self.n
        std = np.sqrt(np.maximum(second - mean**2, 0))
        return mean[:, None], std[:, None]


def choose(
    cf: np.ndarray,
    lm: np.ndarray,
    rows: sp.csr_matrix,
    truth: sp.csr_matrix,
    counts: np.ndarray,
    tail: np.ndarray,
    fixed: Mapping[str, float],
    keep: float = KEEP,
    tail_order: bool = True,
    progress: Callable[[int, int], None] | None = None,
    plain: np.ndarray | None = None,
) -> Choice:
    """The settings of :data:`GRID` (those in `fixed` held) that keep `keep` of the validation
    NDCG@K of the model without text with the highest tail recall@K (see the module docstring).

    Parameters
    ----------
    cf, lm : ndarray [users, items]
        The two sides' raw scores for the validation users.
    rows, truth : csr_matrix [users, items]
        Their training rows (never recommended) and held-out rows.
    counts : ndarray [items]
        Training interactions per item (the gate's evidence).
    tail : ndarray of bool [items]
        The tail, as the exposure stage and the metrics see it.
    fixed : mapping
        Settings the user gave; only the others are searched.
    tail_order : bool
        Whether the tail's own fusion applies (dense scores only; otherwise ``tail_mix`` is not
        searched).
    plain : ndarray [users, items], optional
        Scores of the behaviour model without text, the accuracy anchor (None: `cf`).
    """
    grid = {name: (fixed[name],) if name in fixed else values for name, values in GRID.items()}
    if not tail_order:
        grid["tail_mix"] = (grid["tail_mix"][0],)
    head, tail_idx = np.flatnonzero(~tail), np.flatnonzero(tail)
    zc, zl = zscore(cf, rows), zscore(lm, rows)
    seen = rows.toarray() > 0
    # the head's candidates come from the gate; the tail's, in its own order, are the same for
    # every (alpha, evidence): only where the tail sits (its mean and deviation) changes
    tail_tops = _tail_tops(cf, lm, rows, tail, seen, grid["tail_mix"], counts == 0) if tail_order else {}
    slots = {share: tail_slot_counts(rows, tail, share, K) for share in grid["tail_share"] if share > 0}
    moments = _TailMoments(zc[:, tail], zl[:, tail], ~seen[:, tail]) if tail_order else None
    zc_head, zl_head, seen_head = zc[:, head], zl[:, head], seen[:, head]
    results: list[tuple[dict[str, float], float, float]] = []
    judge = _Judge(M.relevance(truth), tail)
    pairs = list(itertools.product(grid["alpha"], grid["evidence"]))
    for n, (alpha, evidence) in enumerate(pairs):
        w = ((1 - alpha) * counts / (counts + evidence)).astype(np.float32)
        if tail_order:  # the tail's candidates come from its own order: only the head's scores
            g = w[head] * zc_head + (1 - w[head]) * zl_head
            g[seen_head] = -np.inf
        else:
            g = w * zc + (1 - w) * zl
            g[seen] = -np.inf
        head_top = top_k(g if tail_order else g[:, head], K)
        head_top = (np.where(head_top[0] >= 0, head[np.maximum(head_top[0], 0)], -1), head_top[1])
        mean, std = moments.of(w[tail]) if moments is not None else (None, None)
        for mix in grid["tail_mix"]:
            if tail_order:
                idx, t = tail_tops[mix]
                tail_top = (idx, np.where(idx >= 0, mean + std * t, -np.inf).astype(np.float32))
            else:
                idx, vals = top_k(g[:, tail], K)
                tail_top = (idx, vals)
            tail_top = (np.where(tail_top[0] >= 0, tail_idx[np.maximum(tail_top[0], 0)], -1), tail_top[1])
            items, _ = merge_lists(*head_top, *tail_top)
            valid = items >= 0
            is_tail = valid & tail[np.maximum(items, 0)]
            for share in grid["tail_share"]:
                if share > 0:
                    pos = tail_slot_positions(items, valid, is_tail, slots[share], K)
                    recs = np.where(pos >= 0, np.take_along_axis(items, np.maximum(pos, 0), axis=1), -1)
                else:
                    recs = items[:, :K]
                ndcg, tail_recall = judge(recs)
                settings = {"alpha": alpha, "evidence": evidence, "tail_mix": mix, "tail_share": share}
                results.append((settings, ndcg, tail_recall))
        if progress is not None:
            progress(n + 1, len(pairs))
    (anchor, cf_tail), lm_tail = _plain(cf, rows, judge), _plain(lm, rows, judge)[1]
    if plain is not None:
        anchor = _plain(plain, rows, judge)[0]
    floor = max(2 * cf_tail, lm_tail)
    ok = [r for r in results if r[1] >= keep * anchor]
    earned = [r for r in ok if r[2] >= floor and r[2] > 0]
    if earned:
        settings, ndcg, tail_recall = max(earned, key=lambda r: (r[1], r[2]))
    else:
        settings, ndcg, tail_recall = max(ok, key=lambda r: (r[2], r[1])) if ok else max(results, key=lambda r: (r[1], r[2]))
    return Choice({k: float(v) for k, v in settings.items()}, ndcg, tail_recall, anchor, rows.shape[0], len(results), floor, tuple(results))


class SelfTuning:
    """What the hybrid needs to choose its settings in ``fit`` and read them back: mixed into
    :class:`tailwise.models.Hybrid` (which provides ``_sides``, ``_parts``, ``item_counts_``,
    ``fusion``, ``head_share``, ``keep_accuracy``, ``text_weight`` and the four settings as
    parameters)."""

    def _settle(self, dataset: Dataset, tunable: bool) -> None:
        """``settings_`` (alpha, evidence, tail_mix, tail_share): the given ones, the rest chosen
        on a validation split (gate fusion only) or, where that is not possible, the untuned
        defaults; ``tail_``, the tail the tail's own order works on."""
        fixed = {name: float(getattr(self, name)) for name in GRID if getattr(self, name) is not None}
        settings = {**UNTUNED, **fixed}
        if len(fixed) == len(GRID):
            self.fit_info_["settings"] = "as given"
        elif not tunable:
            self.fit_info_["settings"] = f"untuned ({self.fusion} fusion is not tuned)"
        else:
            choice = self._self_tune(dataset, fixed)
            if choice is not None:
                settings = choice.settings
        self.settings_ = np.array([settings[name] for name in GRID], dtype=np.float64)
        self.tail_ = tail_mask(np.asarray(dataset.item_counts), self.head_share)

    def _self_tune(self, dataset: Dataset, fixed: dict[str, float]):
        """Fit on the training data minus a validation split, score the validation users once
        and choose the settings (:func:`tailwise.models.selftune.choose`)."""
        if dataset.n_items * MIN_USERS > MAX_CELLS:  # too few users could be scored: do not split
            self.fit_info_["settings"] = f"untuned: above {MAX_CELLS // MIN_USERS:,} items the validation users cannot be scored densely"
            return None
        split = validation_split(dataset, seed=0)
        sub_train, truth = split.train.matrix(), split.test.matrix()
        users = validation_users(sub_train, truth, dataset.n_items, seed=0)
        if len(users) < MIN_USERS:
            self.fit_info_["settings"] = f"untuned: {len(users)} validation users, fewer than {MIN_USERS}"
            return None
        logger.info("choosing the hybrid's settings on a validation split of %s users", f"{len(users):,}")
        sub = type(self)(**{**self.get_params(), **UNTUNED, "backbone": self.backbone_})
        sub.fit(split.train, memory_budget=self.memory_budget_)
        rows = sub_train[users]
        cf, lm = sub._sides(users, rows)
        counts, plain = sub.item_counts_, None
        if self.backbone_ == "ease" and self.text_weight > 0:  # the anchor: the same EASE without the text
            del sub  # its weights, before the second EASE's
            ease = self._parts()[0]
            ease.fit(split.train, memory_budget=self.memory_budget_)
            plain = ease._score(users, rows)
            del ease
        tail = tail_mask(np.asarray(split.train.item_counts), self.head_share)
        choice = choose(cf, lm, rows, truth[users], counts, tail, fixed, self.keep_accuracy, self.backbone_ == "ease", plain=plain)
        self.fit_info_["settings"] = choice.describe()
        return choice

    def _setting(self, name: str) -> float:
        settings = getattr(self, "settings_", None)
        if settings is None or len(settings) == 0:  # not fitted, or an older directory
            given = getattr(self, name)
            return float(UNTUNED[name] if given is None else given)
        return float(settings[list(GRID).index(name)])

    alpha_ = property(lambda self: self._setting("alpha"), doc="alpha in use (given or chosen)")
    evidence_ = property(lambda self: self._setting("evidence"), doc="evidence in use")
    tail_share_ = property(lambda self: self._setting("tail_share"), doc="tail_share in use")
    tail_mix_ = property(lambda self: self._setting("tail_mix"), doc="tail_mix in use (NaN: off)")

    @property
    def _tail_order(self) -> bool:
        """Whether the tail's own order applies: EASE backbone, gate fusion, and a directory
        recent enough to record it (older ones keep the gate's order)."""
        return self.backbone_ == "ease" and self.fusion == "gate" and np.isfinite(self.tail_mix_) and len(getattr(self, "tail_", ())) > 0

