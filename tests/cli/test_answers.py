"""Valid runs of ``tailwise recommend`` give correct answers, and say what happened.

A correct answer: k rows per user (fewer only when fewer items may be recommended, and then
the command says so), ranks 1..n, no item of the user's own history, every item in the
catalogue or the candidates, finite scores that never increase. A user the model cannot rank
items for gets the popularity fallback, and the command names the user and the reason."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailwise.cli.main import main
from tailwise.pipeline import COLD_HISTORY, FLAT_SCORES, NO_QUERY_MATCH, UNKNOWN_USER


def run(argv: list[str], capsys) -> str:
    capsys.readouterr()
    code = main(argv)
    err = " ".join(capsys.readouterr().err.split())
    assert code == 0, err
    assert "Traceback" not in err
    return err


def training(path: Path) -> dict[str, set[str]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["user_id"], set()).add(r["item_id"])
    return out


def catalogue(path: Path) -> set[str]:
    with open(path, newline="") as fh:
        return {r["item_id"] for r in csv.DictReader(fh)}


@pytest.mark.parametrize("model", ["popular", "itemknn", "ease"])
@pytest.mark.parametrize("k", [1, 7, 100])
def test_lists_for_users_follow_the_rules(cli_env, tmp_path, capsys, model, k):
    env = cli_env.fork(tmp_path)
    err = run(env.recommend(env.model(model), "--users", str(env.users), "--k", str(k)), capsys)
    lists = env.lists(env.output)
    users = [u for u in env.users.read_text().split()[1:]]
    assert sorted(lists) == sorted(users)
    env.check(lists, k, catalogue(env.items), training(env.train))
    assert f"popularity fallback for 1 list ({UNKNOWN_USER}): nobody" in err
    if k == 100:
        assert "--k 100 is more than the 45 items of the catalogue: lists hold at most 45" in err
        assert "hold fewer than 45 items, because no more may be recommended" in err


def test_candidates_and_k_beyond_them(cli_env, tmp_path, capsys):
    env = cli_env.fork(tmp_path)
    allowed = {"i1", "i2", "i3", "i5", "i8", "c0"}
    cands = env.write("cands.txt", "\n".join(sorted(allowed)) + "\n")
    err = run(env.recommend(env.model("ease"), "--users", str(env.users), "--k", "10", "--candidates", str(cands)), capsys)
    lists = env.lists(env.output)
    own = training(env.train)
    empty = [u for u in env.users.read_text().split()[1:] if not allowed - own.get(u, set())]
    assert not set(empty) & set(lists)
    env.check(lists, 10, allowed, own)
    assert "fewer than 10 items, because no more may be recommended" in err


def test_a_history_of_items_without_interactions_gets_a_labelled_fallback(cli_env, tmp_path, capsys):
    env = cli_env.fork(tmp_path)
    err = run(env.recommend(env.model("ease"), "--history", "c0,c1", "--k", "5"), capsys)
    lists = env.lists(env.output)
    assert f"popularity fallback for 1 list ({COLD_HISTORY}): history" in err
    env.check(lists, 5, catalogue(env.items), {"history": {"c0", "c1"}})
    counts = {i: sum(i in items for items in training(env.train).values()) for i in catalogue(env.items)}
    assert [s for _, _, s in lists["history"]] == sorted(counts.values(), reverse=True)[:5]


def test_a_history_with_interactions_is_personal_and_says_nothing_of_a_fallback(cli_env, tmp_path, capsys):
    env = cli_env.fork(tmp_path)
    err = run(env.recommend(env.model("ease"), "--history", "i1,i2,c0", "--k", "5"), capsys)
    assert "fallback" not in err
    env.check(env.lists(env.output), 5, catalogue(env.items), {"history": {"i1", "i2", "c0"}})


def test_a_known_user_the_model_cannot_rank_for_gets_a_labelled_fallback(tmp_path, capsys):
    """Item-kNN has no neighbour for an item nobody else has: its only user's scores are all 0."""
    train = tmp_path / "train.csv"
    train.write_text("user_id,item_id\nu1,a\nu1,b\nu2,a\nu2,b\nu2,c\nu3,b\nu3,c\nloner,solo\n")
    model = tmp_path / "knn"
    run(["fit", "--interactions", str(train), "--model", "itemknn", "--model-dir", str(model)], capsys)
    users = tmp_path / "users.txt"
    users.write_text("loner\nu1\n")
    out = tmp_path / "out.csv"
    err = run(["recommend", "--model-dir", str(model), "--users", str(users), "--k", "2", "--output", str(out)], capsys)
    assert f"popularity fallback for 1 list ({FLAT_SCORES}): loner" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["item_id"] for r in rows if r["user_id"] == "loner"] == ["b", "a"]  # most popular first
    assert next(r["item_id"] for r in rows if r["user_id"] == "u1") == "c"  # its own list


@pytest.mark.parametrize("matches", [False, True])
def test_a_query_is_folded_in_or_gets_a_labelled_fallback(cli_env, tmp_path, capsys, monkeypatch, matches):
    """The text match is stubbed: no relevant item (the query matches nothing), or i1 alone."""
    from tailwise.pipeline import Pipeline
    from tailwise.text.index import TextMatch

    def text_match(pipe, query, candidates=None):
        items = np.array([pipe.items.index("i1")])
        return TextMatch(query, items, np.ones(1, np.float32), int(matches), ("zzz", "qqq"), int(matches))

    monkeypatch.setattr(Pipeline, "text_match", text_match)
    env = cli_env.fork(tmp_path)
    err = run(env.recommend(env.model("ease"), "--query", "zzz qqq", "--k", "4"), capsys)
    assert (f"popularity fallback for 1 list ({NO_QUERY_MATCH}): query" in err) != matches
    assert ("fallback" in err) != matches
    assert ("1 list starts with fewer than 4 items that match the query" in err) == matches
    env.check(env.lists(env.output), 4, catalogue(env.items), {})


# ---------------------------------------------------------------------------- property
@st.composite
def runs(draw):
    n_users, n_items = draw(st.integers(2, 12)), draw(st.integers(2, 15))
    pairs = draw(st.sets(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)), min_size=1, max_size=60))
    model = draw(st.sampled_from(["popular", "itemknn", "ease"]))
    k = draw(st.integers(1, 20))
    cands = draw(st.none() | st.sets(st.integers(0, n_items - 1), min_size=1))
    return n_items, sorted(pairs), model, k, cands


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=runs())
def test_every_valid_run_gives_a_correct_answer(cli_env, capsys, case):
    n_items, pairs, model, k, cands = case
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "train.csv").write_text("user_id,item_id\n" + "".join(f"u{u},i{i}\n" for u, i in pairs))
        (root / "items.csv").write_text("item_id,title\n" + "".join(f"i{i},item {i}\n" for i in range(n_items)))
        run(["fit", "--interactions", str(root / "train.csv"), "--items", str(root / "items.csv"),
             "--model", model, "--model-dir", str(root / "m")], capsys)  # fmt: skip
        own = training(root / "train.csv")
        users = sorted(own) + ["stranger"]
        (root / "users.txt").write_text("\n".join(users) + "\n")
        argv = ["recommend", "--model-dir", str(root / "m"), "--users", str(root / "users.txt"),
                "--k", str(k), "--output", str(root / "out.csv")]  # fmt: skip
        allowed = {f"i{i}" for i in range(n_items)}
        if cands is not None:
            allowed = {f"i{i}" for i in cands}
            (root / "cands.txt").write_text("\n".join(sorted(allowed)) + "\n")
            argv += ["--candidates", str(root / "cands.txt")]
        err = run(argv, capsys)
        lists = cli_env.lists(root / "out.csv")
        cli_env.check(lists, k, allowed, own)
        k_eff = min(k, n_items)
        short = [u for u in users if len(lists.get(u, [])) < k_eff]
        assert bool(short) == (f"fewer than {k_eff} items, because no more may be recommended" in err)
        assert f"({UNKNOWN_USER}): stranger" in err
        assert "although more could be recommended" not in err


def test_model_dir_may_be_new_empty_a_model_directory_or_forced(cli_env, tmp_path, capsys):
    env = cli_env.fork(tmp_path)
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "new", tmp_path / "empty", tmp_path / "new"):  # the last: a model directory
        run(env.fit("popular", model_dir=target), capsys)
        assert (target / "manifest.json").is_file()
    foreign = env.write("foreign/notes.txt", "mine").parent
    assert main(env.fit("popular", model_dir=foreign)) == 2
    run(env.fit("popular", "--force", model_dir=foreign), capsys)
    assert (foreign / "manifest.json").is_file() and not (foreign / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "foreign", "new"]  # no leftovers


def test_known_users_with_a_query_get_the_relevant_items_first(cli_env, tmp_path, capsys, monkeypatch):
    """The text match is stubbed: i1 and i2 are relevant. Known users get them first (those they
    have not had in training), then their own lists; the unknown user gets the anonymous list."""
    from tailwise.pipeline import Pipeline
    from tailwise.text.index import TextMatch

    def text_match(pipe, query, candidates=None):
        items = pipe.items.indices(["i1", "i2"])
        return TextMatch(query, items, np.ones(2, np.float32), 2, ("zzz",), 2)

    monkeypatch.setattr(Pipeline, "text_match", text_match)
    env = cli_env.fork(tmp_path)
    err = run(env.recommend(env.model("ease"), "--users", str(env.users), "--query", "zzz", "--k", "4"), capsys)
    assert "start with fewer than 4 items that match the query" in err and "fallback" not in err
    lists = env.lists(env.output)
    seen: dict[str, set[str]] = {}
    for row in csv.DictReader(io.StringIO(env.train.read_text())):
        seen.setdefault(row["user_id"], set()).add(row["item_id"])
    for user, rows in lists.items():
        fresh = {"i1", "i2"} - seen.get(user, set())
        assert {item for item, _, _ in rows[: len(fresh)]} == fresh, user
    env.check(lists, 4, catalogue(env.items), {})
