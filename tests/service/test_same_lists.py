"""The service serves the pipeline's lists: over HTTP a user, a history, a query and a whitelist
get exactly what :class:`~tailwise.pipeline.Pipeline` gives for the same input and exposure
settings (items, ranks and scores), with no re-ranker, xQuAD and the stochastic re-ranker."""

from __future__ import annotations

import numpy as np
import pytest

from tailwise.pipeline import Pipeline
from tailwise.ranking import history_row
from tailwise.rerank import Exposure

N_CANDIDATES = 300  # the service's default
USERS = ["1", "7", "23"]
HISTORY = ["1", "2355", "588"]  # Toy Story, A Bug's Life, Aladdin
QUERY = "animated film for children with toys"
EXPOSURES = [("none", 0.0, 0), ("xquad", 0.7, 0), ("stochastic", 0.8, 11)]  # (rerank, tail_weight, seed)


@pytest.fixture(scope="module")
def pipes(ease_dir, hybrid_dir) -> dict[str, tuple]:
    """A pipeline loaded beside each service, by model name: (model directory, pipeline)."""
    return {"ease": (ease_dir, Pipeline.load(ease_dir)), "hybrid": (hybrid_dir, Pipeline.load(hybrid_dir))}


def assert_same(body: dict, pipe: Pipeline, items: np.ndarray, scores: np.ndarray) -> None:
    """The served list is the pipeline's list: item ids, ranks 1..n, scores to 1e-5."""
    keep = items >= 0
    got = body["items"]
    assert [it["item_id"] for it in got] == pipe.items.ids[items[keep]].tolist()
    assert [it["rank"] for it in got] == list(range(1, int(keep.sum()) + 1))
    np.testing.assert_allclose([it["score"] for it in got], scores[keep], rtol=0, atol=1e-5)


@pytest.mark.parametrize("model", ["ease", "hybrid"])
@pytest.mark.parametrize(("rerank", "tail_weight", "seed"), EXPOSURES)
def test_http_lists_equal_the_pipeline_lists(make_client, pipes, model, rerank, tail_weight, seed):
    model_dir, pipe = pipes[model]
    c = make_client(model_dir)
    settings = {"rerank": rerank, "tail_weight": tail_weight, "seed": seed}
    exposure = Exposure(rerank, tail_weight, N_CANDIDATES, seed)
    k = 12
    for user in USERS:  # a training user: its index and its training row
        u = pipe.users.index(user)
        want = pipe.run(np.array([u]), pipe.history[[u]], k, exposure=exposure)
        body = c.get("/recommend", params={"user_id": user, "k": k, **settings}).json()
        assert body["known"] is True
        assert_same(body, pipe, want.items[0], want.scores[0])

    whitelist = [str(i) for i in pipe.items.ids[::3]] + ["2355"]
    allowed = np.unique(pipe.items.indices(whitelist))
    history = pipe.items.indices(HISTORY)
    for given, query, cands in (
        (HISTORY, None, None), (HISTORY, None, whitelist), ([], QUERY, whitelist), (HISTORY, QUERY, whitelist),
    ):  # fmt: skip
        body = {"k": k, **settings, **({"history": given} if given else {}), **({"query": query} if query else {})}
        if cands is not None:
            body["candidates"] = cands
        want, _ = pipe.fold_in(history if given else np.empty(0, np.int64), query, k, None if cands is None else allowed, exposure)
        served = c.post("/recommend", json=body).json()
        assert served["known"] is False and served["user_id"] is None
        assert_same(served, pipe, want.items[0], want.scores[0])
        if cands is not None:
            assert {it["item_id"] for it in served["items"]} <= set(whitelist)


def test_a_user_with_feedback_is_folded_in_from_the_whole_row(make_client, pipes, tmp_path):
    model_dir, pipe = pipes["ease"]
    c = make_client(model_dir, tmp_path / "fb.sqlite")
    liked = ["1214", "593"]
    events = [{"user_id": u, "item_id": i, "type": "click"} for u in ("1", "newbie") for i in liked]
    assert c.post("/feedback", json={"events": events}).json() == {"stored": 4}
    exposure = Exposure("xquad", 0.5, N_CANDIDATES)
    u = pipe.users.index("1")
    for user, base in (("1", pipe.history[u].indices), ("newbie", np.empty(0, np.int64))):
        row = history_row(np.union1d(base, pipe.items.indices(liked)), len(pipe.items))
        want = pipe.run(np.array([-1]), row, 10, exposure=exposure)
        body = c.get("/recommend", params={"user_id": user, "k": 10, "rerank": "xquad", "tail_weight": 0.5}).json()
        assert body["known"] is True
        assert_same(body, pipe, want.items[0], want.scores[0])


@pytest.mark.parametrize("params", [{}, {"rerank": "stochastic", "tail_weight": 1.0, "seed": 3}])
def test_an_unknown_user_gets_the_pipeline_fallback(make_client, pipes, params):
    model_dir, pipe = pipes["ease"]
    # the popularity list, through the request's re-ranker when it names one
    exposure = Exposure(params["rerank"], params["tail_weight"], N_CANDIDATES, seed=params["seed"]) if params else None
    items, scores = pipe.fallback(8, exposure=exposure)
    body = make_client(model_dir).get("/recommend", params={"user_id": "nobody", "k": 8, **params}).json()
    assert body["known"] is False
    assert_same(body, pipe, items, scores)
    assert {it["because"] for it in body["items"]} == {"popular with everyone"}


def test_a_seed_fixes_the_stochastic_draw_and_requests_without_one_vary(make_client, pipes):
    model_dir, _ = pipes["ease"]
    c = make_client(model_dir)
    params = {"user_id": "1", "k": 10, "rerank": "stochastic", "tail_weight": 1.0}

    def ids(**extra) -> list[str]:
        return [it["item_id"] for it in c.get("/recommend", params={**params, **extra}).json()["items"]]

    assert ids(seed=5) == ids(seed=5)
    assert len({tuple(ids()) for _ in range(5)}) > 1  # a new seed per request spreads exposure
    body = {"history": HISTORY, "k": 10, "rerank": "stochastic", "tail_weight": 1.0, "seed": 5}
    first, again = (c.post("/recommend", json=body).json()["items"] for _ in range(2))
    assert first == again
