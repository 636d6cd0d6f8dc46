"""The large synthetic log generator (bench/large_log.py) at a tiny size: shape, popularity skew,
topical structure and title lengths."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parents[2] / "bench" / "large_log.py"


@pytest.fixture(scope="module")
def large_log():
    spec = importlib.util.spec_from_file_location("large_log", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["large_log"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("large_log", None)


@pytest.fixture(scope="module")
def tiny(large_log, tmp_path_factory):
    out = tmp_path_factory.mktemp("log")
    spec = large_log.Spec(n_items=2_000, n_users=1_000, n_interactions=30_000, seed=3)
    stats = large_log.generate(spec, out, csv=True, chunk_users=300, progress=lambda m: None)
    return spec, out, stats


def test_files_and_shape(tiny):
    spec, out, stats = tiny
    table = pq.read_table(out / "interactions.parquet")
    assert table.column_names == ["user_id", "item_id", "timestamp"]
    assert str(table.schema.field("timestamp").type) == "int64"
    users, items = table["user_id"].to_pylist(), table["item_id"].to_pylist()
    assert abs(len(users) - spec.n_interactions) <= 0.03 * spec.n_interactions
    assert len(set(users)) == spec.n_users
    assert all(u.startswith("u") for u in users[:100]) and all(
        i.startswith("i") for i in items[:100]
    )
    assert len(set(zip(users, items))) == len(users), "repeated (user, item) pairs are merged"
    assert pacsv.read_csv(out / "interactions.csv").num_rows == len(users)
    assert json.loads((out / "spec.json").read_text())["stats"]["rows"] == len(users)
    assert stats["rows"] == len(users)
    item_ids = pacsv.read_csv(out / "items.csv")["item_id"].to_pylist()
    assert item_ids == [f"i{k}" for k in range(spec.n_items)]
    assert set(items) <= set(item_ids)
    per_user = np.unique(users, return_counts=True)[1]
    assert per_user.min() >= spec.min_activity


def test_popularity_is_skewed(tiny):
    _, out, _ = tiny
    items = pq.read_table(out / "interactions.parquet")["item_id"].to_pylist()
    counts = np.sort(np.unique(items, return_counts=True)[1])[::-1]
    top = counts[: len(counts) // 100].sum() / counts.sum()
    assert top >= 0.10, f"the top 1% of items take {top:.1%}, less than 10x their share"


def test_topics_cooccur_and_titles(large_log, tiny):
    _, out, _ = tiny
    got = large_log.check(out)
    assert got["same_topic_lift"] > 5 * max(got["other_topic_lift"], 1.0), got
    assert got["title_words"][0] >= 8 and got["title_words"][1] <= 12
    # items of a topic share words: two titles of a topic overlap more than titles of two topics
    titles = pacsv.read_csv(out / "items.csv")["title"].to_pylist()
    topic = np.load(out / "item_topic.npy")
    words = [set(t.lower().split()) for t in titles]
    rng = np.random.default_rng(0)
    a, b = rng.integers(len(titles), size=(2, 3000))
    overlap = np.array([len(words[x] & words[y]) for x, y in zip(a, b)])
    same = (topic[a] == topic[b]) & (a != b)
    by_topic = [np.flatnonzero(topic == t) for t in range(topic.max() + 1)]
    pairs = [(g[0], g[1]) for g in by_topic if len(g) > 1]
    overlap_same = np.mean([len(words[x] & words[y]) for x, y in pairs])
    assert overlap_same > 2 + overlap[~same].mean()


def test_generation_is_deterministic(large_log, tiny, tmp_path):
    spec, out, _ = tiny
    large_log.generate(spec, tmp_path, progress=lambda m: None, chunk_users=300)
    assert (tmp_path / "items.csv").read_bytes() == (out / "items.csv").read_bytes()
    a = pq.read_table(tmp_path / "interactions.parquet")
    assert a.equals(pq.read_table(out / "interactions.parquet"))
