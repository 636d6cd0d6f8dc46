"""The HTML report as a person sees it: rendered in headless Chromium, offline, every plot drawn."""

from __future__ import annotations

import dataclasses
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.data import load_demo
from tailwise.eval.report import ReportData, render, sections, write_report
from tailwise.eval.report import data as D
from tailwise.eval.runner import Experiment, ModelSpec, SplitSpec, SweepSpec
from tailwise.eval.runner import run as run_experiment
from tailwise.eval.tradeoff import pareto
from tailwise.testing.browser import browser_page

FIGURES = (
    "fig-catalog",
    "fig-recommendations",
    "fig-lorenz",
    "fig-buckets",
    "fig-tradeoff",
    "fig-cold",
)
SECTIONS = ("metrics", "catalog", "recommendations", "exposure", "buckets", "tradeoff", "cold")


def demo_slice(n_users: int = 150):
    """The bundled ml-latest-small, first `n_users` users, whole catalogue (cold items included)."""
    ds = load_demo()
    return ds.subset(ds.user_idx < n_users, f"{ds.name}[:{n_users}]")


@pytest.fixture(scope="module")
def report_data() -> ReportData:
    """Popular and item-kNN on a random split, their own lists scored, swept with xQuAD and
    calibrated: one experiment run."""
    models = (ModelSpec("popular"), ModelSpec("itemknn", {"neighbours": 50}))
    sweep = SweepSpec(("xquad", "calibrated"), (0.0, 0.5, 1.0))
    results = run_experiment(Experiment(models, SplitSpec("random", 0.2, seed=1), k=10, sweep=sweep), demo_slice())
    return dataclasses.replace(ReportData.from_results(results, command="pytest"), dataset="ml-latest-small")


@pytest.fixture(scope="module")
def report_file(report_data, tmp_path_factory) -> Path:
    return write_report(report_data, tmp_path_factory.mktemp("report") / "report.html")


@pytest.fixture(scope="module")
def page(report_file) -> str:
    return report_file.read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


# ---------------------------------------------------------------------------------- in the browser
def test_report_renders_offline_with_every_plot(report_file, report_data):
    requests: list[str] = []
    with browser_page(1280, 900) as page:
        page.on("request", lambda req: requests.append(req.url))
        page.goto(report_file.resolve().as_uri())
        page.wait_for_load_state("load")
        for section in SECTIONS:
            assert page.locator(f"section#{section} h2").is_visible(), section
        for fig in FIGURES:
            img = page.locator(f"figure#{fig} img")
            assert img.count() == 1, f"{fig} is missing"
            assert page.locator(f"figure#{fig} figcaption").inner_text().strip(), (
                f"{fig} has no caption"
            )
        # every image decodes to a real picture, and each has ink on it (not a blank canvas)
        images = page.evaluate(
            """async () => Promise.all([...document.images].map(async (img) => {
                await img.decode();
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                const g = c.getContext('2d');
                g.drawImage(img, 0, 0);
                const px = g.getImageData(0, 0, c.width, c.height).data;
                let ink = 0, colored = 0;
                for (let i = 0; i < px.length; i += 4) {
                    const [r, gg, b] = [px[i], px[i + 1], px[i + 2]];
                    if (r < 200 || gg < 200 || b < 200) ink++;
                    if (Math.max(r, gg, b) - Math.min(r, gg, b) > 60) colored++;
                }
                return {id: img.closest('figure').id, complete: img.complete, w: img.naturalWidth,
                        h: img.naturalHeight, ink: ink / (px.length / 4), colored: colored};
            }))"""
        )
        assert sorted(i["id"] for i in images) == sorted(FIGURES)
        for info in images:
            assert info["complete"] and info["w"] > 300 and info["h"] > 200, info
            assert 0.01 < info["ink"] < 0.9, f"{info['id']} looks blank or solid: {info}"
            assert info["colored"] > 200, f"{info['id']} draws no coloured data: {info}"
        rows = page.locator("#metrics-table tbody tr")
        assert rows.count() == len(report_data.runs)
        assert [rows.nth(i).get_attribute("data-model") for i in range(rows.count())] == [
            "popular",
            "itemknn",
        ]
        shot = page.screenshot(full_page=True)
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), (
        f"the page reached out: {[u for u in requests if not u.startswith(('file:', 'data:'))]}"
    )
    plt_image = pytest.importorskip("matplotlib.image")
    pixels = plt_image.imread(io.BytesIO(shot), format="png")
    assert pixels.shape[0] > 2000, "all sections laid out one under the other"
    assert pixels.std() > 0.05, "the screenshot is blank"


# ---------------------------------------------------------------------------------- the page
def test_page_is_self_contained(page):
    found = tags(page)
    assert not [t for t, _ in found if t in ("script", "link", "iframe", "object")]
    for tag, attrs in found:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("data:image/png;base64,", "#")), (tag, value[:60])
    assert not re.search(r"url\(|@import|https?://", page.split("<body>")[0])


def test_table_one_row_per_model_with_the_evaluator_numbers(report_data, page):
    table = page.split('id="metrics-table"')[1].split("</table>")[0]
    for run in report_data.runs:
        row = table.split(f'data-model="{run.name}"')[1].split("</tr>")[0]
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        assert cells[0] == run.name
        assert f"{run.row['ndcg']:.4f}" in cells and f"{run.row['gini']:.4f}" in cells
    assert table.count("<tr data-model=") == len(report_data.runs)


def test_tradeoff_table_lists_every_setting_and_stars_the_front(report_data, page):
    table = page.split('id="tradeoff-table"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(★?)</td><td>(\w+)</td><td>(\w+)</td><td>([\d.]+)</td>", table)
    want = [(r["model"], r["rerank"], f"{r['tail_weight']:g}") for r in report_data.tradeoff]
    assert (
        [(m, rr, w) for _, m, rr, w in rows]
        == want
        == [
            (m, rr, w)
            for m in ("popular", "itemknn")
            for rr in ("xquad", "calibrated")
            for w in ("0", "0.5", "1")
        ]
    )
    x = [r["tail_recall"] for r in report_data.tradeoff]
    front = pareto(x, [r["ndcg"] for r in report_data.tradeoff])
    assert [star == "★" for star, *_ in rows] == front.tolist() and front.any()


def test_lorenz_gini_in_the_legend_is_the_table_gini(report_data):
    n_items = len(report_data.ctx.item_pop)
    for run in report_data.runs:
        x, y = D.lorenz(D.exposure(run.items, n_items))
        assert D.lorenz_gini(x, y) == pytest.approx(run.row["gini"], abs=1e-9)


def test_bucket_table_adds_up_to_the_held_out_interactions(report_data):
    section = sections.bucket_section(report_data, {"popular": "#000", "itemknn": "#111"})
    counts = section.extra.split("held-out interactions</td>")[1].split("</tr>")[0]
    total = sum(int(c.replace(",", "")) for c in re.findall(r"<td>([\d,]+)</td>", counts))
    assert total == report_data.ctx.truth.nnz


def test_summary_at_the_top_computed_from_the_results(report_data, page):
    top = page.split('id="summary"')[1].split("</section>")[0]
    assert page.index('id="summary"') < page.index('id="metrics"')
    # the fixture has no hybrid: the summary says so and names the most accurate model
    best = max(report_data.rows, key=lambda r: r["ndcg"])
    assert "(hybrid) was not evaluated" in top and f"{best['model']} (NDCG@10 {best['ndcg']:.4f})" in top
    # one sentence per swept (model, re-ranker)
    assert top.count(" + xquad: up to tail weight") == 2 and top.count(" + calibrated: up to") == 2


def test_default_model_highlighted_and_compared(report_data):
    runs = [dataclasses.replace(r, name="hybrid", row={**r.row, "model": "hybrid"}) if r.name == "itemknn" else r
            for r in report_data.runs]  # fmt: skip
    html_text = render(dataclasses.replace(report_data, runs=runs, tradeoff=None))
    hyb = next(r.row for r in runs if r.name == "hybrid")
    pop = next(r.row for r in runs if r.name == "popular")
    assert '<tr data-model="hybrid" class="default"><td>hybrid (default)</td>' in html_text
    top = html_text.split('id="summary"')[1].split("</section>")[0]
    if hyb["ndcg"] >= pop["ndcg"]:
        assert f"is the most accurate here: NDCG@10 {hyb['ndcg']:.4f} against popular's {pop['ndcg']:.4f}" in top
    else:
        assert f"{hyb['ndcg'] / pop['ndcg']:.1%} of popular's" in top
    assert f"It recommends {hyb['coverage']:.1%} of the catalogue to someone, against popular's {pop['coverage']:.1%}" in top


def test_missing_tradeoff_and_cold_items_say_how_to_get_them(report_data):
    ctx = report_data.ctx
    # the same lists judged without any cold item in the truth
    truth = sp.csr_matrix(ctx.truth.multiply(~ctx.cold[None, :]))
    truth.eliminate_zeros()
    warm = dataclasses.replace(ctx, truth=truth)
    rows = [{**r.row, "cold_recall": float("nan")} for r in report_data.runs]
    runs = [type(r)(r.name, row, r.items) for r, row in zip(report_data.runs, rows)]
    page = render(ReportData(warm, runs, dataset="x"))
    assert 'id="fig-tradeoff"' not in page and 'id="fig-cold"' not in page
    tradeoff = page.split('<section id="tradeoff">')[1].split("</section>")[0]
    assert "--rerank" in tradeoff and "--tail-weights" in tradeoff
    cold = page.split('<section id="cold">')[1].split("</section>")[0]
    assert "--split cold-item" in cold
    for fig in ("fig-catalog", "fig-recommendations", "fig-lorenz", "fig-buckets"):
        assert f'id="{fig}"' in page


@pytest.mark.slow
def test_cold_item_split_report():
    """A cold-item split: models rank only held-out items; the cold section says so."""
    models = (ModelSpec("popular"), ModelSpec("itemknn", {"neighbours": 20}))
    results = run_experiment(Experiment(models, SplitSpec("cold-item", 0.1, seed=3), k=10), demo_slice(120))
    ctx, runs = results.ctx, results.runs
    page = render(ReportData(ctx, runs, dataset="slice"))
    cold = page.split('<section id="cold">')[1].split("</section>")[0]
    assert 'id="fig-cold"' in cold and "cold-item split" in cold
    assert all(np.isin(r.items[r.items >= 0], ctx.candidates).all() for r in runs)


def test_write_report_keeps_the_old_file_when_drawing_fails(report_data, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("previous report")

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(sections.plots, "lorenz_curves", broken)
    with pytest.raises(RuntimeError, match="drawing failed"):
        write_report(report_data, out)
    assert out.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"], "no temporary file left"


def test_report_data_checks_its_lists(report_data):
    run = report_data.runs[0]
    with pytest.raises(ValueError, match="lists for 3 users"):
        ReportData(report_data.ctx, [type(run)(run.name, run.row, run.items[:3])])
    with pytest.raises(ValueError, match="at least one"):
        ReportData(report_data.ctx, [])
