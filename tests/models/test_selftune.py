"""The hybrid's self-tuning (settings chosen on a validation split) and the tail's own order."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.models import Hybrid
from tailwise.models.fusion import tail_fusion, zscore
from tailwise.models.selftune import GRID, K, choose
from tailwise.testing.contract import random_dataset


def _scores(n_users=60, n_items=50, seed=0):
    rng = np.random.default_rng(seed)
    cf = rng.normal(size=(n_users, n_items)).astype(np.float32)
    lm = rng.normal(size=(n_users, n_items)).astype(np.float32)
    rows = sp.csr_matrix((rng.random((n_users, n_items)) < 0.1).astype(np.float32))
    return cf, lm, rows


def test_tail_fusion_reorders_the_tail_only_and_keeps_its_place():
    cf, lm, rows = _scores()
    tail = np.zeros(cf.shape[1], bool)
    tail[20:] = True
    fused = 0.7 * zscore(cf, rows) + 0.3 * zscore(lm, rows)
    out = tail_fusion(fused, cf, lm, rows, tail, 0.5)
    np.testing.assert_array_equal(out[:, ~tail], fused[:, ~tail])  # the head is untouched
    # the tail's order is the mix of both sides standardised among the tail items
    mixed = 0.5 * zscore(cf, rows, tail) + 0.5 * zscore(lm, rows, tail)
    for u in range(cf.shape[0]):
        free = np.flatnonzero(tail & ~rows[u].toarray().ravel().astype(bool))
        np.testing.assert_array_equal(np.argsort(-out[u, free], kind="stable"), np.argsort(-mixed[u, free], kind="stable"))
        # and the tail keeps the fused scores' mean and deviation (over the items not seen)
        np.testing.assert_allclose(out[u, free].mean(), fused[u, free].mean(), atol=1e-4)
        np.testing.assert_allclose(out[u, free].std(), fused[u, free].std(), rtol=1e-3)


def test_an_item_without_interactions_is_ordered_by_its_text_alone():
    """A new item has no CF side: inside the tail it competes by its text, not by a CF score
    of zero that would sink it below every warm tail item."""
    cf, lm, rows = _scores(n_users=40, n_items=30, seed=9)
    tail = np.arange(30) >= 6
    cold = np.arange(30) >= 24
    cf[:, cold] = 0.0
    lm[:, 24] = 10.0  # every user's best text match, with no interactions
    fused = zscore(cf, rows)
    out = tail_fusion(fused, cf, lm, rows, tail, 0.9, cold)
    for u in range(40):
        if not rows[u, 24]:
            free = np.flatnonzero(tail & ~rows[u].toarray().ravel().astype(bool))
            assert free[np.argmax(out[u, free])] == 24


def test_tail_mix_one_orders_the_tail_by_cf_alone():
    cf, lm, rows = _scores(seed=1)
    tail = np.arange(cf.shape[1]) % 2 == 0
    out = tail_fusion(zscore(lm, rows), cf, lm, rows, tail, 1.0)
    for u in range(5):
        free = np.flatnonzero(tail & ~rows[u].toarray().ravel().astype(bool))
        assert np.array_equal(np.argsort(-out[u, free]), np.argsort(-cf[u, free]))


def _truth_in_tail(cf, rows, tail, seed=0):
    """Held-out items: some of each user's best tail items by `lm`-like signal."""
    rng = np.random.default_rng(seed)
    truth = np.zeros(cf.shape, np.float32)
    for u in range(cf.shape[0]):
        truth[u, rng.choice(np.flatnonzero(~rows[u].toarray().ravel().astype(bool)), 3, replace=False)] = 1
    return sp.csr_matrix(truth)


def test_choose_keeps_the_accuracy_floor_and_honours_given_settings():
    cf, lm, rows = _scores(n_users=80, n_items=60, seed=2)
    counts = np.random.default_rng(2).integers(0, 40, cf.shape[1]).astype(np.float32)
    tail = counts < np.quantile(counts, 0.8)
    truth = _truth_in_tail(cf, rows, tail)
    free = choose(cf, lm, rows, truth, counts, tail, {}, keep=0.9)
    assert free.tried == np.prod([len(v) for v in GRID.values()])
    assert free.ndcg >= 0.9 * free.anchor
    held = choose(cf, lm, rows, truth, counts, tail, {"alpha": 0.2, "tail_share": 0.0}, keep=0.9)
    assert held.settings["alpha"] == 0.2 and held.settings["tail_share"] == 0.0
    assert held.tried == len(GRID["evidence"]) * len(GRID["tail_mix"])
    # a stricter floor never buys more tail recall
    strict = choose(cf, lm, rows, truth, counts, tail, {}, keep=1.0)
    assert strict.tail_recall <= free.tail_recall + 1e-12


def test_choose_spends_accuracy_on_the_tail_only_where_the_tail_is_hit():
    """When the held-out items are tail items that only the language side ranks well, the
    chosen settings lean on it; when they are the CF side's own top items, they do not."""
    rng = np.random.default_rng(3)
    n_users, n_items = 120, 80
    counts = np.r_[np.full(16, 100.0), np.full(64, 2.0)].astype(np.float32)
    tail = counts < 50
    rows = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    cf = rng.normal(size=(n_users, n_items)).astype(np.float32) + 3 * ~tail  # CF favours the head
    lm = rng.normal(size=(n_users, n_items)).astype(np.float32)
    truth = np.zeros((n_users, n_items), np.float32)
    best_lm_tail = np.argsort(-np.where(tail, lm, -np.inf), axis=1)[:, :2]
    np.put_along_axis(truth, best_lm_tail, 1, axis=1)
    choice = choose(cf, lm, rows, sp.csr_matrix(truth), counts, tail, {}, keep=0.5)
    assert choice.tail_recall > 0.5
    assert choice.settings["tail_share"] > 0 or choice.settings["alpha"] > 0
    head_truth = np.zeros((n_users, n_items), np.float32)
    np.put_along_axis(head_truth, np.argsort(-cf, axis=1)[:, :2], 1, axis=1)
    plain = choose(cf, lm, rows, sp.csr_matrix(head_truth), counts, tail, {}, keep=1.0)
    assert plain.settings["tail_share"] == 0.0  # no slot is spent where the CF side's top items are the hits
    assert plain.ndcg > 0.98


@pytest.mark.usefixtures("fake_text")
def test_the_hybrid_chooses_its_settings_in_fit_and_keeps_them(tmp_path):
    from tailwise.pipeline import Pipeline

    ds = random_dataset(n_users=400, n_items=60, density=0.12, seed=4)
    pipe = Pipeline.fit(Hybrid(l2=10.0, factors=8), ds)
    model = pipe.model
    info = model.fit_info()["settings"]
    assert "validation on" in info and "settings tried" in info
    chosen = {name: getattr(model, name + "_") for name in GRID}
    for name, value in chosen.items():
        assert value in GRID[name], (name, value)
        assert getattr(model, name) is None  # the parameter stays "choose"; the choice is fitted state
    assert pipe.meta["fit_info"]["settings"] == info  # into the manifest
    pipe.save(tmp_path / "model")
    back = Pipeline.load(tmp_path / "model")
    assert {name: getattr(back.model, name + "_") for name in GRID} == chosen
    users, x = np.arange(ds.n_users), ds.matrix()
    np.testing.assert_allclose(back.model.score(users, x), model.score(users, x), rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("fake_text")
def test_given_settings_are_not_tuned_and_small_data_falls_back():
    ds = random_dataset(n_users=400, n_items=60, density=0.12, seed=5)
    given = {"alpha": 0.3, "evidence": 5.0, "tail_mix": 0.6, "tail_share": 0.2}
    model = Hybrid(l2=10.0, factors=8, **given).fit(ds)
    assert model.fit_info()["settings"] == "as given"
    assert {name: getattr(model, name + "_") for name in GRID} == pytest.approx(given)
    small = Hybrid(l2=10.0, factors=8).fit(random_dataset(n_users=40, n_items=30))
    assert small.fit_info()["settings"].startswith("untuned: ")


@pytest.mark.usefixtures("fake_text")
def test_an_older_directory_keeps_the_gates_tail_order():
    """A model saved before self-tuning has no settings_: the given or old default settings and
    the gate's own order in the tail, so its lists do not change under a new version."""
    ds = random_dataset(n_users=60, n_items=40, density=0.2, seed=6)
    model = Hybrid(l2=10.0, factors=8, tail_share=0.0).fit(ds)
    state = {k: v for k, v in model.get_state().items() if k not in ("settings_", "tail_")}
    old = Hybrid(l2=10.0, factors=8, tail_share=0.0)
    old.n_items_, old.n_users_ = model.n_items_, model.n_users_
    old.set_state(state)
    assert np.isnan(old.tail_mix_) and old.alpha_ == 0.4 and old.evidence_ == 10.0
    users, x = np.arange(ds.n_users), ds.matrix()
    cf, lm = old._sides(users, x)
    p = old.item_counts_ / (old.item_counts_ + 10.0)
    w = 0.6 * p
    np.testing.assert_allclose(old.score(users, x), w * zscore(cf, x) + (1 - w) * zscore(lm, x), rtol=1e-4, atol=1e-5)


def test_k_is_the_documented_cutoff():
    assert K == 20


@pytest.mark.usefixtures("fake_text")
def test_the_ease_backbone_takes_the_data_scaled_penalty_without_a_search():
    from tailwise.models.ease import EASE
    from tailwise.models.hybrid import EASE_L2, EASE_L2_ITEM

    ds = random_dataset(n_users=300, n_items=50, density=0.15, seed=7)
    model = Hybrid(factors=8, text_weight=0.0).fit(ds)
    assert (model.l2_, model.l2_item) == (EASE_L2, EASE_L2_ITEM)
    assert not model.fit_info()["settings"].startswith("l2=")  # nothing searched
    want = EASE(l2=EASE_L2, l2_item=EASE_L2_ITEM).fit(ds).weights_
    np.testing.assert_array_equal(model.ease_.weights_, want)
    given = Hybrid(l2=7.0, l2_item=0.0, text_weight=0.0, factors=8).fit(ds)
    assert given.l2_ == 7.0
    np.testing.assert_array_equal(given.ease_.weights_, EASE(l2=7.0).fit(ds).weights_)


def test_choose_scores_a_setting_as_the_hybrid_would():
    """choose() re-mixes precomputed parts; its figures equal scoring with tail_fusion."""
    from tailwise import metrics as M
    from tailwise.ranking import top_k

    cf, lm, rows = _scores(n_users=70, n_items=60, seed=8)
    counts = np.random.default_rng(8).integers(0, 30, cf.shape[1]).astype(np.float32)
    tail = counts < np.quantile(counts, 0.7)
    truth = _truth_in_tail(cf, rows, tail, seed=8)
    for alpha, evidence, mix in [(0.2, 3.0, 0.25), (0.6, 30.0, 0.75)]:
        fixed = {"alpha": alpha, "evidence": evidence, "tail_mix": mix, "tail_share": 0.0}
        got = choose(cf, lm, rows, truth, counts, tail, fixed, keep=0.0)
        w = (1 - alpha) * counts / (counts + evidence)
        g = tail_fusion(w * zscore(cf, rows) + (1 - w) * zscore(lm, rows), cf, lm, rows, tail, mix, counts == 0)
        g[rows.nonzero()] = -np.inf
        recs = top_k(g, K)[0]
        assert got.ndcg == pytest.approx(float(np.mean(M.ndcg(recs, truth, K))), abs=1e-9)
        assert got.tail_recall == pytest.approx(float(np.nanmean(M.tail_recall(recs, truth, tail, K))), abs=1e-9)


def test_choose_takes_the_most_accurate_setting_that_earns_the_tail_floor():
    """The floor is twice the CF side's validation tail recall and at least the language
    side's alone; among the settings that keep the accuracy and reach it, the most accurate
    wins (not the one with the most tail)."""
    from tailwise import metrics as M
    from tailwise.ranking import top_k

    cf, lm, rows = _scores(n_users=150, n_items=200, seed=5)
    counts = np.random.default_rng(5).integers(0, 40, cf.shape[1]).astype(np.float32)
    tail = counts < np.quantile(counts, 0.7)
    cf[:, ~tail] += 2.5  # CF leans on the head, so the text has tail to add
    # held out: each user's best head items by CF and best tail items by both sides together
    both = np.where(tail, cf + lm, -np.inf)
    head = np.where(tail, -np.inf, cf)
    both[rows.nonzero()] = head[rows.nonzero()] = -np.inf
    truth = np.zeros(cf.shape, np.float32)
    np.put_along_axis(truth, np.argsort(-head, axis=1)[:, :3], 1, axis=1)
    np.put_along_axis(truth, np.argsort(-both, axis=1)[:, :3], 1, axis=1)
    truth = sp.csr_matrix(truth)

    def plain_tail(scores):
        s = scores.copy()
        s[rows.nonzero()] = -np.inf
        return float(np.nanmean(M.tail_recall(top_k(s, K)[0], truth, tail, K)))

    got = choose(cf, lm, rows, truth, counts, tail, {}, keep=0.8)
    assert got.floor == pytest.approx(max(2 * plain_tail(cf), plain_tail(lm)))
    earned = [r for r in got.table if r[1] >= 0.8 * got.anchor and r[2] >= got.floor and r[2] > 0]
    assert earned, "the test's data must let some setting reach the floor"
    best = max(earned, key=lambda r: (r[1], r[2]))
    assert (got.settings, got.ndcg) == (best[0], best[1])
    assert got.ndcg >= max(r[1] for r in earned) and got.tail_recall <= max(r[2] for r in earned)
    assert "at least twice the CF side's" in got.describe()


def test_the_model_without_text_is_the_accuracy_anchor():
    """With `plain` given, the band is measured against its validation NDCG, not the CF
    side's: a CF side that the text made more accurate widens the band and the choice spends
    that on the tail; the floor still comes from the CF side and the language side."""
    from tailwise import metrics as M
    from tailwise.ranking import top_k

    cf, lm, rows = _scores(n_users=150, n_items=200, seed=7)
    counts = np.random.default_rng(7).integers(0, 40, cf.shape[1]).astype(np.float32)
    tail = counts < np.quantile(counts, 0.7)
    cf[:, ~tail] += 2.5
    seen = rows.toarray() > 0
    # held out: each user's best head items by CF and best tail items by the language side
    truth = np.zeros(cf.shape, np.float32)
    np.put_along_axis(truth, np.argsort(-np.where(seen | tail, -np.inf, cf), axis=1)[:, :4], 1, axis=1)
    np.put_along_axis(truth, np.argsort(-np.where(seen | ~tail, -np.inf, lm), axis=1)[:, :2], 1, axis=1)
    truth = sp.csr_matrix(truth)
    plain = cf + np.random.default_rng(8).normal(scale=3.0, size=cf.shape).astype(np.float32)  # a noisier model

    def ndcg_of(scores):
        s = scores.copy()
        s[rows.nonzero()] = -np.inf
        return float(np.nanmean(M.ndcg(top_k(s, K)[0], truth, K)))

    own = choose(cf, lm, rows, truth, counts, tail, {}, keep=0.99)
    anchored = choose(cf, lm, rows, truth, counts, tail, {}, keep=0.99, plain=plain)
    assert own.anchor == pytest.approx(ndcg_of(cf)) and anchored.anchor == pytest.approx(ndcg_of(plain))
    assert anchored.anchor < own.anchor  # the test's premise: the text made the CF side better
    assert anchored.floor == own.floor and anchored.table == own.table
    band = [r for r in own.table if r[1] >= 0.99 * anchored.anchor]
    assert anchored.tail_recall == max(r[2] for r in band) > own.tail_recall  # the floor is out of reach: most tail
    assert anchored.ndcg >= 0.99 * anchored.anchor
    assert "of the model without text" in anchored.describe()


@pytest.mark.usefixtures("fake_text")
def test_the_hybrid_anchors_on_its_ease_without_the_text(monkeypatch):
    """The hybrid's self-tuning fits the same EASE without the text on the validation split
    and passes its scores as the anchor; with text_weight 0 the CF side is that model."""
    from tailwise.models import selftune

    seen = []
    real = selftune.choose
    monkeypatch.setattr(selftune, "choose", lambda *a, **kw: seen.append(kw.get("plain")) or real(*a, **kw))
    ds = random_dataset(n_users=400, n_items=60, density=0.12, seed=4)
    Hybrid(l2=10.0, factors=8).fit(ds)
    Hybrid(l2=10.0, factors=8, text_weight=0.0).fit(ds)
    with_text, without = seen
    assert with_text is not None and with_text.shape[1] == ds.n_items
    assert without is None


@pytest.mark.usefixtures("fake_text")
def test_the_ease_backbone_reads_the_item_texts_as_extra_users():
    """text_weight adds w T T^T to the Gram matrix (T: the items' centred unit embeddings):
    the closed form in float64 gives the same weights, and items alike in text gain weight."""
    from tailwise.text.side import TextSide

    ds = random_dataset(n_users=300, n_items=50, density=0.15, seed=7)
    model = Hybrid(factors=8, text_weight=5.0, tail_share=0.0, alpha=0.4, evidence=10.0, tail_mix=0.5).fit(ds)
    emb = TextSide(model.encoder, model.max_tokens, model.cache_dir, False).embed(ds.texts()).astype(np.float64)
    active = model.ease_.active_
    t = emb[active] - emb[active].mean(axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    x = ds.matrix().toarray().astype(np.float64)[:, active]
    gram = x.T @ x
    p = np.linalg.inv(gram + 5.0 * t @ t.T + np.diag(model.l2_ + model.l2_item * np.diag(gram)))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    np.testing.assert_allclose(model.ease_.weights_, b, rtol=1e-3, atol=1e-5)
    plain = Hybrid(factors=8, text_weight=0.0, tail_share=0.0, alpha=0.4, evidence=10.0, tail_mix=0.5).fit(ds)
    assert not np.allclose(plain.ease_.weights_, model.ease_.weights_, atol=1e-5)


def test_the_judge_equals_the_metrics_module():
    """choose() scores each setting's lists with one hit look-up; the figures are
    metrics.ndcg and metrics.tail_recall's."""
    from tailwise import metrics as M
    from tailwise.models.selftune import _Judge

    rng = np.random.default_rng(11)
    truth = sp.csr_matrix((rng.random((90, 40)) < 0.1).astype(np.float32))
    tail = rng.random(40) < 0.6
    for k in (K, 7):
        recs = np.argsort(rng.random((90, 40)), axis=1)[:, :k]
        recs[::5, -1] = -1  # padding
        ndcg, tail_recall = _Judge(M.relevance(truth), tail)(recs)
        want = M.tail_recall(recs, truth, tail, K)
        assert ndcg == pytest.approx(float(np.nanmean(M.ndcg(recs, truth, K))))
        assert tail_recall == pytest.approx(float(np.nanmean(want)))


def test_tune_searches_every_self_tuned_setting():
    """`tailwise tune` proposes all four settings, so a trial's fit is not searched again
    inside (it would otherwise pick the settings the trial did not give on its own split)."""
    from tailwise.models.spaces import space_for

    space = space_for("hybrid")
    assert set(GRID) <= set(space)
    assert {"l2_item", "text_weight"} <= set(space)  # the EASE backbone's penalty and text
