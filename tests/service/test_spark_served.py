"""A model directory written by ``tailwise spark fit`` is served by ``tailwise serve``."""

from __future__ import annotations

import pytest

httpx = pytest.importorskip("httpx")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:The copy keyword is deprecated")


def test_served_lists_are_the_spark_lists(spark_fitted, model_copy, server):
    recs = spark_fitted.recs.sort_values(["user_id", "rank"])
    s = server(model_copy(spark_fitted.dir))
    for user in recs.user_id.unique()[:5]:
        body = httpx.get(f"{s.url}/recommend", params={"user_id": user, "k": 10}, timeout=30).json()
        assert body["known"] is True and body["model"] == "hybrid"
        assert [it["item_id"] for it in body["items"]] == recs[recs.user_id == user].item_id.tolist()


def test_an_ad_hoc_history_is_folded_in(spark_fitted, model_copy, make_client):
    c = make_client(model_copy(spark_fitted.dir))
    liked = spark_fitted.recs.item_id.iloc[0]
    body = c.post("/recommend", json={"history": [liked], "k": 5}).json()
    items = [it["item_id"] for it in body["items"]]
    assert len(items) == 5 and liked not in items
