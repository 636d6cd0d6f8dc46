"""Across languages: on a small hand-written catalogue of items described in English or in Chinese
(``tests/data/bilingual``), a query in Chinese finds the item described in English and the other
way round, and Chinese queries find Chinese items by their words (jieba tokens, or character
bigrams without jieba); through ``tailwise fit``, ``tailwise recommend --query``, a real
``tailwise serve`` on loopback (``POST /recommend``, ``GET /items?q=``) and the library."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tailwise.cli.main import main
from tailwise.pipeline import Pipeline
from tailwise.text import lexical
from tailwise.text.index import MIN_COVERAGE

httpx = pytest.importorskip("httpx")

DATA = Path(__file__).resolve().parents[1] / "data" / "bilingual"

#: a query and the one item (described in the other language) it paraphrases
ACROSS = {
    "关于鲨鱼和鲸鱼的纪录片": "e04",  # a documentary about sharks and whales
    "抢劫赌场的喜剧": "e02",  # a comedy about robbing a casino
    "闹鬼的房子": "e06",  # a haunted house
    "人工智能控制电脑": "e09",  # artificial intelligence controls the computers
    "a panda learning kung fu": "z01",
    "astronauts repair their spaceship": "z03",
    "blind pianist in Shanghai": "z08",
    "a lost kitten looks for its owner": "z12",
}
#: Chinese queries whose words occur in a Chinese item's text
SAME = {"功夫熊猫": "z01", "足球": "z05", "长城": "z10"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bilingual") / "model"
    args = ["fit", "--interactions", str(DATA / "interactions.csv"), "--items", str(DATA / "items.csv"), "--model-dir", str(out)]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def pipe(model_dir) -> Pipeline:
    return Pipeline.load(model_dir)


def test_the_catalogue_is_bilingual():
    rows = list(csv.DictReader((DATA / "items.csv").read_text(encoding="utf-8").splitlines()))
    zh = [r for r in rows if any("\u4e00" <= ch <= "\u9fff" for ch in r["description"])]
    assert len(rows) == 36 and len(zh) == 18 and all(r["item_id"].startswith("z") for r in zh)


@pytest.mark.parametrize("query", [*ACROSS, *SAME])
def test_the_text_ranking_puts_the_described_item_first(pipe, query):
    match = pipe.text_match(query)
    want = pipe.items.index({**ACROSS, **SAME}[query])
    assert match.items[0] == want and want in match.relevant


@pytest.mark.parametrize("query", list(SAME))
def test_chinese_words_match_lexically_with_and_without_jieba(pipe, query, monkeypatch):
    want = pipe.items.index(SAME[query])
    assert lexical._jieba() is not None  # jieba is in the test extra
    assert want in pipe.text_match(query).strong  # words and meaning both
    monkeypatch.setattr(lexical, "_jieba", lambda: None)  # character bigrams
    bigrams = lexical.BM25(pipe.item_text)
    scores, cover = bigrams.scores(query)
    assert scores.argmax() == want and cover[want] >= MIN_COVERAGE  # a lexical match ("夫熊" of 功夫熊猫 is no word)


def test_cli_query_in_either_language(model_dir, tmp_path):
    for n, (query, want) in enumerate({**ACROSS, **SAME}.items()):
        out = tmp_path / f"q{n}.csv"
        assert main(["recommend", "--model-dir", str(model_dir), "--query", query, "--k", "5", "--output", str(out)]) == 0
        got = [r["item_id"] for r in csv.DictReader(out.read_text(encoding="utf-8").splitlines())]
        assert len(got) == 5 and want in got, (query, got)


def test_http_recommend_and_search_in_either_language(model_dir, server):
    s = server(model_dir)
    with httpx.Client(base_url=s.url, timeout=30) as c:
        for query, want in {**ACROSS, **SAME}.items():
            body = c.post("/recommend", json={"query": query, "k": 5}).json()
            got = [it["item_id"] for it in body["items"]]
            assert want in got and body["query"]["relevant"] > 0, (query, body)
            found = c.get("/items", params={"q": query, "limit": 3}).json()["items"]
            assert found[0]["item_id"] == want, (query, found)
        known = c.post("/recommend", json={"query": "足球", "user_id": "u01", "k": 5}).json()
        assert known["known"] and "z05" in [it["item_id"] for it in known["items"]]
        kids = next(it for it in known["items"] if it["item_id"] == "z05")
        assert "足球" in kids["because"]  # the explanation names the matched Chinese word


def test_a_chinese_item_added_over_http_is_found_by_an_english_query(model_dir, server):
    s = server(model_dir)
    text = "熊猫宝宝滑雪。动画片：一只熊猫宝宝第一次在雪山上学滑雪。"  # a baby panda learns to ski
    with httpx.Client(base_url=s.url, timeout=30) as c:
        assert c.post("/items", json={"items": [{"item_id": "z99", "text": text}]}).status_code == 200
        got = [it["item_id"] for it in c.post("/recommend", json={"query": "a panda learns skiing in the snowy mountains", "k": 5}).json()["items"]]
        assert "z99" in got


def test_a_large_catalogue_searches_the_text_embeddings_through_the_ann_index(model_dir, tmp_path, monkeypatch):
    pytest.importorskip("faiss")
    from tailwise.index import ANNIndex, retrieval

    exact = Pipeline.load(model_dir)
    monkeypatch.setattr(retrieval, "DEFAULT_THRESHOLD", 10)  # 36 items count as large here
    pipe = Pipeline.load(model_dir)
    assert isinstance(pipe.text_index().dense, ANNIndex)
    for query in [*ACROSS, *SAME]:
        a, b = pipe.text_match(query), exact.text_match(query)
        assert a.items[:5].tolist() == b.items[:5].tolist() and a.n_relevant == b.n_relevant, query
    pipe.add_items(["z99"], ["熊猫宝宝滑雪。动画片：一只熊猫宝宝第一次在雪山上学滑雪。"])
    assert pipe.text_match("a panda learns skiing").items[0] == pipe.items.index("z99")  # the graph grew
    pipe.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "text-index" / "manifest.json").is_file()

    def no_build(*a, **k):
        raise AssertionError("the text ANN index was built again")

    monkeypatch.setattr(retrieval, "make_index", no_build)
    again = Pipeline.load(tmp_path / "saved")
    assert again.text_match("a panda learns skiing").items[0] == again.items.index("z99")


def test_the_web_page_finds_items_across_languages(model_dir, server):
    """The page's Interests box and search box go through the same text path: a Chinese interest
    lists the English documentary about sharks and whales, an English search finds the Chinese
    kung-fu panda film first."""
    import re

    from tailwise.testing.browser import browser_page

    site = server(model_dir).url
    with browser_page() as page:
        from playwright.sync_api import expect

        page.goto(f"{site}/")
        page.get_by_label("Interests").fill("关于鲨鱼和鲸鱼的纪录片")
        page.get_by_role("button", name="Recommend for these interests").click()
        expect(page.locator("#results-summary")).to_have_text(re.compile(r"items for your interests"), timeout=30_000)
        expect(page.locator("#results")).to_have_attribute("aria-busy", "false")
        shown = page.locator("#results > li")
        ids = [shown.nth(i).get_attribute("data-item-id") for i in range(shown.count())]
        assert "e04" in ids[:5], ids
        assert "Deep Blue Hunters" in page.locator('#results > li[data-item-id="e04"] .title').inner_text()
        page.get_by_label("Find items by text").fill("a panda learning kung fu")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#search-results > li").first).to_have_attribute("data-item-id", "z01", timeout=30_000)
        assert "熊猫功夫学校" in page.locator("#search-results > li").first.locator(".title").inner_text()
