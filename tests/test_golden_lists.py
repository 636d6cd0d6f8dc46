"""Every model's lists through the command line equal the lists of the code before the stages
redesign (``tests/golden/lists-small.json``, written by that code with the same commands): no
re-ranker and each re-ranker, a whitelist, a history, a free-text query, plus the tables of
``tailwise evaluate`` and ``tailwise tradeoff``. See :mod:`tailwise.testing.golden`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailwise.testing import golden

GOLDEN = Path(__file__).parent / "golden" / "lists-small.json"


@pytest.mark.slow
def test_every_list_and_metric_equals_the_golden_run(tmp_path, monkeypatch):
    pytest.importorskip("implicit")
    pytest.importorskip("torch")
    # a fresh embedding cache, as when the golden run was written: the encoder's last digits
    # depend on which texts share a batch, so vectors cached by other tests would differ slightly
    monkeypatch.setenv("TAILWISE_CACHE", str(tmp_path / "cache"))
    before = json.loads(GOLDEN.read_text())
    data = golden.small_data(tmp_path)
    after = dict(golden.lists(tmp_path, data))
    after.update(golden.metrics(tmp_path, data))
    assert len(after) == len(before) == 83
    assert golden.compare(before, after) == []


def test_compare_reports_every_kind_of_difference():
    csv = "user_id,item_id,rank,score\n1,10,1,0.5\n1,11,2,0.25\n"
    assert golden.compare({"a": csv}, {"a": csv}) == []
    assert golden.compare({"a": csv}, {"a": csv.replace("1,11,2", "1,12,2")})[0].startswith("a: line 3")
    assert "score" in golden.compare({"a": csv}, {"a": csv.replace("0.25", "0.26")})[0]
    assert golden.compare({"a": csv}, {}) == ["a: only in before"]
    rows = [{"model": "ease", "ndcg": 0.5}]
    assert golden.compare({"t": rows}, {"t": [{"model": "ease", "ndcg": 0.5000001}]}) == []
    assert "ndcg" in golden.compare({"t": rows}, {"t": [{"model": "ease", "ndcg": 0.6}]})[0]
