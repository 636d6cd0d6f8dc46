"""Property tests (hypothesis): the tail-boosting re-rankers never lower the tail share of a
list that under-serves the tail, and push it further as the knob grows; calibration never
makes a list less calibrated."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tailwise.data.popularity import tail_mask
from tailwise.rerank import Calibrated, RerankContext, XQuAD
from tailwise.rerank.calibrated import SMOOTH, kl_divergence, user_mix
from tailwise.rerank.xquad import user_tail_share

SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def lists(draw, tail_lover: bool = False):
    """One user's candidates (best first), history, popularity and two knob values w1 <= w2.

    A `tail_lover` has seen most of the tail (and some of the head)."""
    n_items = draw(st.integers(4, 30))
    width = draw(st.integers(2, n_items))
    k = draw(st.integers(1, width))
    pop = np.array(draw(st.lists(st.integers(0, 60), min_size=n_items, max_size=n_items)), dtype=float)
    items = np.array(draw(st.permutations(range(n_items)))[:width])[None, :]
    raw = draw(st.lists(st.floats(-5, 5, width=32), min_size=width, max_size=width))
    scores = np.sort(np.array(raw, dtype=np.float32))[::-1][None, :].copy()
    seen = draw(st.lists(st.booleans(), min_size=n_items, max_size=n_items))
    ctx = RerankContext(pop, tail_mask(pop, 0.2))
    if tail_lover:
        seen = np.array(seen) | ctx.tail
    history = sp.csr_matrix(np.array(seen, dtype=np.float32)[None, :])
    w1, w2 = sorted(draw(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=2)))
    return items, scores, history, k, ctx, w1, w2


def n_tail(out: np.ndarray, tail: np.ndarray) -> int:
    row = out[0]
    return int(tail[row[row >= 0]].sum())


@SETTINGS
@given(lists())
def test_xquad_never_lowers_the_tail_share_and_grows_with_the_knob(case):
    items, scores, history, k, ctx, w1, w2 = case
    p_tail = max(user_tail_share(history, ctx.tail)[0], 0.5)
    base = n_tail(items[:, :k], ctx.tail)  # the model's own top-k
    assume(base <= p_tail * k)  # a list holding no more tail than the user's tail weight
    at_w1 = n_tail(XQuAD(w1).rerank(items, scores, history, k, ctx)[0], ctx.tail)
    at_w2 = n_tail(XQuAD(w2).rerank(items, scores, history, k, ctx)[0], ctx.tail)
    assert base <= at_w1 <= at_w2


@SETTINGS
@given(lists(tail_lover=True))
def test_calibration_never_lowers_an_under_served_tail(case):
    items, scores, history, k, ctx, w1, w2 = case
    groups = ctx.groups()
    p = user_mix(history, groups, ctx.item_pop)[0]
    q = np.bincount(groups[items[0, :k]], minlength=3) / k
    assume(q[1] <= p[1] and q[2] <= p[2])  # the model's list under-serves the mid and the tail
    base = n_tail(items[:, :k], ctx.tail)
    at_w1 = n_tail(Calibrated(w1).rerank(items, scores, history, k, ctx)[0], ctx.tail)
    at_w2 = n_tail(Calibrated(w2).rerank(items, scores, history, k, ctx)[0], ctx.tail)
    assert base <= at_w1 <= at_w2


@SETTINGS
@given(lists())
def test_calibration_never_increases_miscalibration(case):
    items, scores, history, k, ctx, w1, w2 = case
    groups = ctx.groups()
    p = user_mix(history, groups, ctx.item_pop)[0]

    def miscalibration(row: np.ndarray) -> float:
        row = row[row >= 0]
        q = np.bincount(groups[row], minlength=3) / len(row)
        return float(kl_divergence(p, (1 - SMOOTH) * q + SMOOTH * p))

    base = miscalibration(items[0, :k])
    at_w1 = miscalibration(Calibrated(w1).rerank(items, scores, history, k, ctx)[0][0])
    at_w2 = miscalibration(Calibrated(w2).rerank(items, scores, history, k, ctx)[0][0])
    assert at_w2 <= at_w1 + 1e-9 and at_w1 <= base + 1e-9
