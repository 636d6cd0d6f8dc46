"""The evaluator (which users, which items, which metrics) and the result tables."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from rich.console import Console

from tailwise.data import Dataset, IdMap, load_demo
from tailwise.data.splits import Split, cold_items, random_holdout, temporal
from tailwise.eval.evaluator import (
    ACCURACY,
    LONG_TAIL,
    EvalContext,
    evaluate_model,
    fit_pipeline,
    score_pipeline,
)
from tailwise.eval.table import columns, print_table, write_table
from tailwise.models import EASE, MODELS, ItemKNN, Popular, make_model
from tailwise.rerank import Exposure
from tailwise.testing.contract import random_dataset

LOG2_3 = math.log2(3)
#: metrics that are shares or ratios and must lie in [0, 1]
UNIT = (*ACCURACY, "tail_recall", "head_recall", "coverage", "tail_coverage", "aplt", "gini")
UNIT += ("diversity",)  # binary item vectors: cosine distances lie in [0, 1]


def with_time(ds: Dataset, seed: int = 0) -> Dataset:
    """`ds` with random timestamps (a copy; the id maps are shared)."""
    rng = np.random.default_rng(seed)
    return Dataset(
        users=ds.users,
        items=ds.items,
        user_idx=ds.user_idx,
        item_idx=ds.item_idx,
        timestamp=rng.permutation(ds.n_interactions).astype(float),
        name=ds.name,
    )


# ---------------------------------------------------------------------------------- context
def test_build_selects_users_with_train_and_test():
    # u_old: only early rows (train only); u_new: only late rows (test only); u_both: both
    users = ["u_old"] * 3 + ["u_both"] * 3 + ["u_new"] * 2
    items = ["a", "b", "c", "a", "b", "d", "c", "d"]
    ts = [1, 2, 3, 4, 5, 9, 10, 11]
    ds = Dataset.from_ids(users, items, timestamp=ts)
    split = temporal(ds, 0.4)
    assert split.test.n_interactions == 3
    ctx = EvalContext.build(split, k=2)
    assert ctx.users.tolist() == [ds.users.index("u_both")]
    assert ctx.history.toarray().tolist() == [[1, 1, 0, 0]]
    assert ctx.truth.toarray().tolist() == [[0, 0, 0, 1]]
    assert ctx.item_pop.tolist() == [2, 2, 1, 0]
    assert ctx.cold.tolist() == [False, False, False, True]
    assert ctx.candidates is None


def test_build_selection_matches_definition():
    ds = with_time(random_dataset(60, 40, density=0.1, seed=3))
    split = temporal(ds, 0.3)
    ctx = EvalContext.build(split)
    train_n = np.bincount(split.train.user_idx, minlength=ds.n_users)
    test_n = np.bincount(split.test.user_idx, minlength=ds.n_users)
    expected = np.flatnonzero((train_n > 0) & (test_n > 0))
    assert 0 < len(expected) < ds.n_users
    np.testing.assert_array_equal(ctx.users, expected)
    assert (ctx.history.toarray() == split.train.matrix()[expected].toarray()).all()
    assert (ctx.truth.toarray() == split.test.matrix()[expected].toarray()).all()


def test_build_without_any_evaluable_user():
    ds = Dataset.from_ids(["u1", "u2"], ["a", "b"])
    with pytest.raises(ValueError, match="no user with both train and test"):
        EvalContext.build(random_holdout(ds))  # single-interaction users stay in train


@pytest.mark.parametrize("head_share", [0.1, 0.2, 0.5])
def test_tail_mask_head_size(head_share):
    ds = random_dataset(50, 37, seed=1)
    ctx = EvalContext.build(random_holdout(ds, seed=1), head_share=head_share)
    pop = ctx.item_pop
    n_head = min(math.ceil(head_share * ds.n_items), int((pop > 0).sum()))
    head = ~ctx.tail
    assert head.sum() == n_head
    assert pop[head].min() >= pop[ctx.tail].max()  # the head is the most popular items


def test_tail_mask_never_puts_unseen_items_in_head():
    # three items with interactions, a catalogue of ten: the head has room for five
    ds = Dataset.from_ids(
        ["u1", "u1", "u2", "u2", "u3", "u3"],
        ["a", "b", "a", "c", "a", "b"],
        item_text={f"x{i}": "" for i in range(7)},
    )
    last = np.arange(ds.n_interactions) == ds.n_interactions - 1
    split = Split(ds.subset(~last), ds.subset(last), "hand")
    assert split.train.item_counts.tolist()[:3] == [3, 1, 1]
    ctx = EvalContext.build(split, head_share=0.5)
    assert (~ctx.tail).sum() == 3
    assert ctx.tail[ctx.item_pop == 0].all()


# ---------------------------------------------------------------------------------- cold items
@pytest.fixture(scope="module")
def cold_split() -> Split:
    return cold_items(random_dataset(60, 40, density=0.2, seed=5), 0.25, seed=0)


def test_cold_split_defaults_candidates(cold_split):
    ctx = EvalContext.build(cold_split, k=5)
    np.testing.assert_array_equal(ctx.candidates, cold_split.cold_items)
    assert ctx.cold[cold_split.cold_items].all()
    assert ctx.tail[cold_split.cold_items].all()
    explicit = np.array([0, 1, 2])
    assert EvalContext.build(cold_split, candidates=explicit).candidates is explicit


def _small(name: str):
    params = {"als": {"factors": 8, "iterations": 3}, "bpr": {"factors": 8, "iterations": 10}}
    return make_model(name, **params.get(name, {}))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cold_split_recommends_only_cold_items(cold_split, name):
    ctx = EvalContext.build(cold_split, k=5)
    pipe = fit_pipeline(_small(name), ctx)  # fits the model on the train side
    recs, row = score_pipeline(pipe, ctx)
    listed = recs.items[recs.items >= 0]
    assert listed.size > 0
    assert set(listed.tolist()) <= set(cold_split.cold_items.tolist())
    assert "cold_recall" in row
    # every relevant test item is cold, so recall is cold recall
    assert row["cold_recall"] == pytest.approx(row["recall"])
    assert row["coverage"] <= 1.0


# ---------------------------------------------------------------------------------- metrics
def test_evaluate_model_keys_and_ranges():
    ds = random_dataset(60, 40, density=0.15, seed=2)
    ctx = EvalContext.build(random_holdout(ds, seed=2), k=10)
    row = evaluate_model(ItemKNN(), ctx)
    assert row["model"] == "itemknn"
    for key in (*ACCURACY, *LONG_TAIL, "fit_s", "recommend_s"):
        assert key in row, key
    for key in UNIT:
        v = row[key]
        assert math.isnan(v) or 0.0 <= v <= 1.0, (key, v)
    assert row["arp"] >= 0 and row["novelty"] >= 0
    assert row["fit_s"] >= 0 and row["recommend_s"] >= 0
    assert row["precision"] <= row["hit_rate"] and row["mrr"] <= row["hit_rate"]
    assert not math.isnan(row["ndcg"])
    # scoring the same fitted pipeline again gives the same numbers
    pipe = fit_pipeline(ItemKNN(), ctx)
    assert pipe.head_share == ctx.head_share and row["fit_s"] >= 0
    for _ in range(2):
        again = score_pipeline(pipe, ctx)[1]
        for key in (*ACCURACY, *LONG_TAIL):
            assert again[key] == pytest.approx(row[key], nan_ok=True)


def test_score_pipeline_labels_a_named_reranker():
    ds = random_dataset(60, 40, density=0.15, seed=2)
    ctx = EvalContext.build(random_holdout(ds, seed=2), k=10)
    pipe = fit_pipeline(ItemKNN(), ctx)
    _, plain = score_pipeline(pipe, ctx)
    _, off = score_pipeline(pipe, ctx, Exposure("xquad", 0.0))
    _, on = score_pipeline(pipe, ctx, Exposure("xquad", 0.9))
    assert "rerank" not in plain
    assert (off["rerank"], off["tail_weight"], on["rerank"], on["tail_weight"]) == ("xquad", 0.0, "xquad", 0.9)
    assert off["ndcg"] == plain["ndcg"]  # a knob of 0: the model's own lists
    assert on["aplt"] >= plain["aplt"]


def hand_split() -> Split:
    """4 users, 5 items a..e; train counts a=4, b=2, c=1, d=0, e=0.

    Popular ranks a, b, c, d, e; with k=2 and seen items removed:

    ====  =======  ======  ======  ===================================
    user  train    test    list    hits
    ====  =======  ======  ======  ===================================
    u0    a, b     c       c, d    c at rank 1: recall 1, ndcg 1
    u1    a, c     b, e    b, d    b at rank 1: recall 1/2, ndcg 1/(1 + 1/log2 3)
    u2    a, b     e       c, d    none
    u3    a        c       b, c    c at rank 2: recall 1, ndcg 1/log2 3
    ====  =======  ======  ======  ===================================
    """
    pairs = [
        (0, 0, 0), (0, 1, 0), (0, 2, 1),
        (1, 0, 0), (1, 2, 0), (1, 1, 1), (1, 4, 1),
        (2, 0, 0), (2, 1, 0), (2, 4, 1),
        (3, 0, 0), (3, 2, 1),
    ]  # fmt: skip
    u, i, is_test = (np.array(x) for x in zip(*pairs))
    ds = Dataset(
        users=IdMap(["u0", "u1", "u2", "u3"]),
        items=IdMap(["a", "b", "c", "d", "e"]),
        user_idx=u,
        item_idx=i,
        name="hand",
    )
    return Split(ds.subset(is_test == 0), ds.subset(is_test == 1), "hand")


def test_popular_on_hand_made_case():
    ctx = EvalContext.build(hand_split(), k=2, head_share=0.2)
    assert ctx.users.tolist() == [0, 1, 2, 3]
    assert ctx.item_pop.tolist() == [4, 2, 1, 0, 0]
    assert ctx.tail.tolist() == [False, True, True, True, True]
    recs, _ = score_pipeline(fit_pipeline(Popular(), ctx), ctx)
    assert recs.items.tolist() == [[2, 3], [1, 3], [2, 3], [1, 2]]

    row = evaluate_model(Popular(), ctx)
    ndcg_u1 = 1 / (1 + 1 / LOG2_3)
    expected = {
        "recall": (1 + 0.5 + 0 + 1) / 4,
        "precision": (0.5 + 0.5 + 0 + 0.5) / 4,
        "ndcg": (1 + ndcg_u1 + 0 + 1 / LOG2_3) / 4,
        "hit_rate": 3 / 4,
        "mrr": (1 + 1 + 0 + 0.5) / 4,
        "tail_recall": (1 + 0.5 + 0 + 1) / 4,  # every relevant item is a tail item
        "coverage": 3 / 5,  # b, c, d
        "tail_coverage": 3 / 4,  # b, c, d of the tail b, c, d, e
        "aplt": 1.0,
        "arp": (0.5 + 1.0 + 0.5 + 1.5) / 4,
        "gini": 18 / 40,  # exposures [0, 0, 2, 3, 3]
        "novelty": (2 + 1.5 + 2 + 1.5) / 4,  # -log2(2/4) = 1 bit for b, 2 bits for c and d
        "cold_recall": 0.0,  # e is cold and relevant to u1 and u2, never listed
    }
    for key, value in expected.items():
        assert row[key] == pytest.approx(value), key
    assert math.isnan(row["head_recall"])  # no relevant head item


# ---------------------------------------------------------------------------------- sanity
@pytest.fixture(scope="module")
def demo_split() -> Split:
    """The bundled demo, restricted to movies with at least 10 ratings so EASE fits in a second."""
    ds = load_demo()
    ds = ds.subset(ds.item_counts[ds.item_idx] >= 10)
    return random_holdout(ds, 0.2, seed=42)


def test_ease_beats_popular_on_demo(demo_split):
    ctx = EvalContext.build(demo_split, k=20)
    pop, ease = evaluate_model(Popular(), ctx), evaluate_model(EASE(), ctx)
    assert ease["ndcg"] > 1.5 * pop["ndcg"]
    assert ease["recall"] > pop["recall"]
    assert ease["coverage"] > pop["coverage"]
    assert 0.2 < ease["ndcg"] < 0.6  # ml-latest-small with EASE: about 0.37


# ---------------------------------------------------------------------------------- tables
NAN = float("nan")
ROWS = [
    dict(model="popular", ndcg=0.1234, recall=0.5, head_recall=NAN, fit_s=0.01, extra=3),
    dict(model="ease", ndcg=0.3456, recall=0.75, head_recall=0.25, fit_s=12.5, cold_recall=0.0),
]


def test_columns_order():
    expected = ["model", "recall", "ndcg", "head_recall", "cold_recall", "fit_s", "extra"]
    assert columns(ROWS) == expected


def test_write_csv_round_trip(tmp_path):
    path = write_table(ROWS, tmp_path / "sub" / "results.csv")
    assert path == tmp_path / "sub" / "results.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        back = list(csv.DictReader(fh))
    assert list(back[0]) == columns(ROWS)
    assert back[0]["model"] == "popular" and back[1]["model"] == "ease"
    assert float(back[0]["ndcg"]) == 0.1234 and float(back[1]["fit_s"]) == 12.5
    assert back[0]["head_recall"] == ""  # NaN is written as an empty cell
    assert back[0]["cold_recall"] == "" and back[1]["extra"] == ""  # missing keys too
    assert [p.name for p in path.parent.iterdir()] == ["results.csv"]


def test_write_json_round_trip(tmp_path):
    path = write_table(ROWS, tmp_path / "results.JSON")
    back = json.loads(path.read_text(encoding="utf-8"))
    assert back[0]["head_recall"] is None  # NaN -> null, so the file is strict JSON
    assert back[0]["cold_recall"] is None and back[1]["extra"] is None
    assert back[1]["head_recall"] == 0.25 and back[0]["extra"] == 3
    assert back[0]["ndcg"] == 0.1234
    assert list(back[0]) == columns(ROWS)
    assert "NaN" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["results.txt", "results"])
def test_write_unsupported_suffix(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        write_table(ROWS, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_print_table():
    console = Console(record=True, width=120)
    print_table(ROWS, 20, "demo results", console=console)
    text = console.export_text()
    assert "demo results" in text
    assert "popular" in text and "ease" in text
    assert "ndcg@20" in text and "recall@20" in text and "cold_recall@20" in text
    assert "fit_s" in text and "fit_s@20" not in text
    assert "0.1234" in text and "12.50" in text
    nan_line = next(line for line in text.splitlines() if "head_recall@20" in line)
    assert "-" in nan_line and "nan" not in nan_line.lower().replace("head_recall", "")


def test_print_table_has_arrows_a_legend_and_marks_the_default():
    from tailwise.eval.table import print_summary

    rows = [*ROWS, {"model": "hybrid", "ndcg": 0.3400, "recall": 0.7, "tail_recall": 0.05, "fit_s": 20.0}]
    rows[1] = {**rows[1], "tail_recall": 0.01}
    console = Console(record=True, width=160)
    print_table(rows, 20, "demo results", console=console)
    print_summary(rows, 20, console=console)
    text = console.export_text()
    assert "ndcg@20 ↑" in text and "fit_s ↓" in text and "tail_recall@20 ↑" in text
    assert "(default)" in text
    assert "↑ higher is better, ↓ lower is better" in text
    assert "ranking quality" in text and "recall on held-out long-tail items" in text
    said = " ".join(text.split())
    assert "reaches NDCG@20 0.3400: 98.4% of ease's 0.3456" in said
    assert "tail recall@20) against ease's 0.0100: 5.0x" in said


def test_sweep_summary_is_printed():
    from tailwise.eval.table import print_summary

    sweep = [{"model": "ease", "rerank": "xquad", "tail_weight": w, "ndcg": n, "tail_recall": t}
             for w, n, t in [(0.0, 0.30, 0.01), (0.25, 0.296, 0.02), (0.5, 0.25, 0.06)]]  # fmt: skip
    console = Console(record=True, width=200)
    print_summary(ROWS, 20, sweep, console=console)
    text = " ".join(console.export_text().split())
    assert "Trade-off sweep (3 settings)" in text
    assert "ease + xquad: up to tail weight 0.25 NDCG stays within 98% of its own (0.2960 vs 0.3000)" in text
    assert "at 0.5 it is 0.2500 and 0.0600" in text
