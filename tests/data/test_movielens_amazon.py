"""The MovieLens and Amazon loaders: the bundled demo, the shared real datasets and tiny folders."""

from __future__ import annotations

import csv
import gzip
import logging
from pathlib import Path

import numpy as np
import pytest

from tailwise.data import Dataset, demo_path, load_amazon, load_demo, load_movielens
from tailwise.errors import DataError


def _text(ds: Dataset, item_id: str) -> str:
    return ds.texts()[ds.items.index(item_id)]


# ---------------------------------------------------------------------- bundled demo


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return load_demo()


def test_demo_counts(demo):
    assert demo.n_users == 610
    assert demo.n_items == 9742
    assert demo.n_interactions == 100_836
    assert demo.describe()["items_with_interactions"] == 9724
    assert demo.matrix().nnz == 100_836  # no duplicate pairs
    assert demo.name == "ml-latest-small"


def test_demo_has_ratings_and_timestamps(demo):
    assert demo.rating is not None and demo.timestamp is not None
    assert set(np.unique(demo.rating).tolist()) == {x / 2 for x in range(1, 11)}
    # ratings between 1996-03-29 and 2018-09-24 (Unix seconds)
    assert 827_000_000 < demo.timestamp.min() < demo.timestamp.max() < 1_538_000_000


def test_demo_every_item_has_text(demo):
    texts = demo.texts()
    assert len(texts) == 9742
    assert all(t.strip() for t in texts)
    toy = _text(demo, "1")
    assert toy.startswith("Toy Story (1995). Adventure, Animation, Children, Comedy, Fantasy. ")
    assert "pixar" in toy  # tags, lower-cased
    assert "|" not in toy and "(no genres listed)" not in "".join(texts)


def test_demo_licence_beside_the_data():
    root = demo_path()
    assert (root / "README.grouplens.txt").is_file()
    assert "GroupLens" in (root / "README.grouplens.txt").read_text(encoding="utf-8")
    for name in ("ratings.csv", "movies.csv", "tags.csv"):
        assert (root / name).is_file()


# ---------------------------------------------------------------------- ml-1m (shared data)


@pytest.fixture(scope="module")
def ml1m(ml1m_dir) -> Dataset:
    return load_movielens(ml1m_dir)


@pytest.mark.slow
def test_ml1m_counts(ml1m):
    assert ml1m.n_users == 6040
    assert ml1m.n_items == 3883
    assert ml1m.describe()["items_with_interactions"] == 3706
    assert ml1m.n_interactions == 1_000_209
    assert ml1m.matrix().nnz == 1_000_209  # no duplicate pairs
    assert ml1m.name == "ml-1m"


@pytest.mark.slow
def test_ml1m_ratings_without_timestamps(ml1m):
    assert ml1m.timestamp is None
    assert set(np.unique(ml1m.rating).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert float(ml1m.rating.mean()) == pytest.approx(3.582, abs=1e-3)
    # the first rows of the original ratings.dat: user 1 rated 1193, 661, 914, 3408, 2355
    assert ml1m.items.ids[:5].tolist() == ["1193", "661", "914", "3408", "2355"]
    assert ml1m.rating[:5].tolist() == [5.0, 3.0, 3.0, 4.0, 5.0]


@pytest.mark.slow
def test_ml1m_latin1_titles_are_decoded(ml1m):
    # movies.dat is Latin-1: byte 0xe9 is "é"; as UTF-8 it would fail or turn into mojibake
    assert _text(ml1m, "73").startswith("Misérables, Les (1995). Drama, Musical")
    assert _text(ml1m, "1211").startswith("Wings of Desire (Der Himmel über Berlin) (1987)")
    joined = "".join(ml1m.texts())
    assert "\ufffd" not in joined and "Ã©" not in joined


@pytest.mark.slow
def test_ml1m_item_text_includes_the_extra_info(ml1m):
    toy = _text(ml1m, "1")
    assert toy.startswith("Toy Story (1995). Animation, Children's, Comedy. John Lasseter. ")
    assert "Tom Hanks" in toy
    assert "A little boy named Andy loves to be in his room" in toy  # the plot
    assert "N/A" not in "".join(ml1m.texts())
    # movies 860 and 1795 have no extra info: title and genres only
    assert _text(ml1m, "860") == "Maybe, Maybe Not (Bewegte Mann, Der) (1994). Comedy"
    assert all(t for t in ml1m.texts())


@pytest.mark.slow
def test_ml1m_text_cols(ml1m_dir):
    ds = load_movielens(ml1m_dir, text_cols=("title",))
    assert _text(ds, "1") == "Toy Story (1995)"
    assert ds.n_interactions == 1_000_209


# ---------------------------------------------------------------------- tiny MovieLens folders

MOVIES_DAT = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Misérables, Les (1995)::Drama|Musical\n"
    "3::Cold Movie (2000)::Drama\n"
)
RATINGS_DAT = "1::1::5::978300760\n1::2::3::978302109\n2::1::4::978301968\n"
EXTRA_DAT = (
    "1::Toy Story::1995::G::22 Nov 1995::Animation::John Lasseter::W::Tom Hanks::Toys live.::P\r\n"
    "2::Les Misérables::1995::R::N/A::Drama::Claude Lelouch::W::Salomé Lelouch::N/A::P\r\n"
)


def _ml1m_folder(root: Path, ratings: str = RATINGS_DAT, extra: bool = True) -> Path:
    root.mkdir()
    (root / "movies.dat").write_bytes(MOVIES_DAT.encode("latin-1"))
    (root / "ratings.dat").write_bytes(ratings.encode("latin-1"))
    if extra:
        (root / "movies_extrainfos.dat").write_bytes(EXTRA_DAT.encode("utf-8"))
    return root


def test_tiny_ml1m_folder_with_ratings_dat(tmp_path):
    ds = load_movielens(_ml1m_folder(tmp_path / "tiny-1m"))
    assert ds.name == "tiny-1m"
    assert ds.users.ids.tolist() == ["1", "2"]
    assert ds.items.ids.tolist() == ["1", "2", "3"]  # movie 3 is a cold item
    assert ds.item_counts.tolist() == [2, 1, 0]
    assert ds.rating.tolist() == [5.0, 3.0, 4.0]
    assert ds.timestamp.tolist() == [978300760.0, 978302109.0, 978301968.0]
    assert ds.texts() == [
        "Toy Story (1995). Animation, Children's, Comedy. John Lasseter. Tom Hanks. Toys live.",
        "Misérables, Les (1995). Drama, Musical. Claude Lelouch. Salomé Lelouch",
        "Cold Movie (2000). Drama",
    ]


def test_tiny_ml1m_folder_without_extra_info(tmp_path):
    ds = load_movielens(_ml1m_folder(tmp_path / "m", extra=False))
    assert ds.texts()[1] == "Misérables, Les (1995). Drama, Musical"


def test_tiny_ml1m_folder_with_ratings_csv_gz(tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    (root / "movies.dat").write_bytes(MOVIES_DAT.encode("latin-1"))
    (root / "ratings_no_timestamp.csv.gz").write_bytes(
        gzip.compress(b"userId,movieId,rating\n1,1,5\n2,3,2\n")
    )
    ds = load_movielens(root)
    assert ds.timestamp is None
    assert ds.rating.tolist() == [5.0, 2.0]
    assert ds.item_counts.tolist() == [1, 1, 0]  # index order: 1, 3, then cold 2


def test_tiny_ml1m_bad_ratings_line(tmp_path):
    root = _ml1m_folder(tmp_path / "m", ratings=RATINGS_DAT + "2::3::4\n")
    err = pytest.raises(DataError, load_movielens, root).value
    assert (err.path, err.line) == (str(root / "ratings.dat"), 4)
    assert "expected 4 fields separated by '::', found 3" in err.message


def test_tiny_ml1m_without_ratings(tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    (root / "movies.dat").write_bytes(MOVIES_DAT.encode("latin-1"))
    err = pytest.raises(DataError, load_movielens, root).value
    assert err.path == str(root)
    assert "neither ratings.dat nor ratings_no_timestamp.csv.gz" in err.message


def test_tiny_ml_latest_folder(tmp_path):
    root = tmp_path / "latest"
    root.mkdir()
    (root / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,10,4.5,100\n2,10,1.0,200\n2,20,3.0,300\n"
    )
    (root / "movies.csv").write_text(
        'movieId,title,genres\n10,"Heat, The (1995)",Action|Crime\n'
        "20,Odd One (2001),(no genres listed)\n30,Unrated (1999),Drama\n"
    )
    (root / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n1,10,Tense,1\n2,10,tense,2\n2,10,heist,3\n"
    )
    ds = load_movielens(root)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 3)
    assert ds.texts() == [
        "Heat, The (1995). Action, Crime. tense, heist",
        "Odd One (2001)",
        "Unrated (1999). Drama",
    ]
    assert ds.timestamp.tolist() == [100.0, 200.0, 300.0]
    no_tags = load_movielens(root, text_cols=("title", "genres"))
    assert no_tags.texts()[0] == "Heat, The (1995). Action, Crime"


def test_not_a_movielens_folder(tmp_path):
    err = pytest.raises(DataError, load_movielens, tmp_path).value
    assert err.path == str(tmp_path)
    assert "not a MovieLens folder" in err.message
    file = tmp_path / "ratings.csv"
    file.write_text("x")
    err = pytest.raises(DataError, load_movielens, file).value
    assert err.path == str(file) and err.message.startswith("MovieLens path must be a folder or one of the names ml-100k")


# ---------------------------------------------------------------------- amazon-scientific


@pytest.fixture(scope="module")
def amazon(amazon_dir) -> Dataset:
    return load_amazon(amazon_dir)


@pytest.fixture(scope="module")
def amazon_rows(amazon_dir) -> list[dict[str, str]]:
    with open(amazon_dir / "interactions.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_amazon_counts(amazon, amazon_rows):
    assert len(amazon_rows) == 59_427
    assert amazon.n_users == 8442
    assert amazon.n_items == 4385
    assert amazon.n_interactions == 59_136  # 291 repeated pairs collapsed
    assert amazon.matrix().nnz == 59_136
    assert amazon.rating is None
    assert amazon.name == "amazon-scientific"


def test_amazon_repeated_pairs_keep_the_last(amazon, amazon_rows):
    last: dict[tuple[str, str], float] = {}
    for r in amazon_rows:
        key = (r["user_id"], r["item_id"])
        last[key] = max(last.get(key, -1.0), float(r["seq_pos"]))
    users = amazon.users.ids[amazon.user_idx].tolist()
    items = amazon.items.ids[amazon.item_idx].tolist()
    got = dict(zip(zip(users, items), amazon.timestamp.tolist()))
    assert got == last  # timestamps are seq_pos, and the latest position of each pair is kept


def test_amazon_duplicate_policies(amazon_dir, amazon_rows, caplog):
    with caplog.at_level(logging.WARNING):
        first = load_amazon(amazon_dir, on_duplicate="first")
    assert "291 duplicate (user, item) pairs" in caplog.text
    assert first.n_interactions == 59_136
    earliest: dict[tuple[str, str], float] = {}
    for r in amazon_rows:
        earliest.setdefault((r["user_id"], r["item_id"]), float(r["seq_pos"]))
    u = first.users.ids[first.user_idx].tolist()
    i = first.items.ids[first.item_idx].tolist()
    assert dict(zip(zip(u, i), first.timestamp.tolist())) == earliest

    err = pytest.raises(DataError, load_amazon, amazon_dir, on_duplicate="error").value
    assert err.path == str(amazon_dir / "interactions.csv")
    assert err.field == "item_id" and err.line is not None and err.line > 2
    row = amazon_rows[err.line - 2]  # line 2 is the first data row
    assert f"(user {row['user_id']!r}, item {row['item_id']!r})" in err.message


def test_amazon_text(amazon):
    texts = amazon.texts()
    assert all(t.strip() for t in texts)
    assert all(t == t.strip() for t in texts)
    assert _text(amazon, "B0000223SI") == (
        "PORTER-CABLE 740000801 4 1/2-Inch x 10yd 80 Grit Adhesive-Backed Sanding Roll. "
        "Industrial & Scientific Abrasive & Finishing Products Manual Sanding Products "
        "Sanding Rolls. PORTER-CABLE"
    )


# ---------------------------------------------------------------------- tiny Amazon folders

AMAZON_INTER = (
    "user_id,item_id,user_idx,item_idx,seq_pos\n"
    "A,x1,0,0,0\nA,x2,0,1,1\nA,x1,0,0,2\nB,x2,1,1,0\n"
)
AMAZON_TEXT = (
    "item_id:token\ttext:token_seq\n"
    "x1\tFirst thing. Tools. ACME. \nx2\tSecond. \nx3\tCold. \n"
)


def test_tiny_amazon_folder(tmp_path):
    (tmp_path / "interactions.csv").write_text(AMAZON_INTER)
    (tmp_path / "Tiny.text").write_text(AMAZON_TEXT)
    ds = load_amazon(tmp_path)
    assert ds.items.ids.tolist() == ["x2", "x1", "x3"]  # (A, x1) kept at its last position
    assert ds.timestamp.tolist() == [1.0, 2.0, 0.0]
    assert ds.texts() == ["Second", "First thing. Tools. ACME", "Cold"]
    assert ds.item_counts.tolist() == [2, 1, 0]


def test_amazon_missing_text_file(tmp_path):
    (tmp_path / "interactions.csv").write_text(AMAZON_INTER)
    err = pytest.raises(DataError, load_amazon, tmp_path).value
    assert (err.path, err.line, err.field) == (str(tmp_path), None, None)
    assert "*.text" in err.message


def test_amazon_missing_interactions_file(tmp_path):
    (tmp_path / "Tiny.text").write_text(AMAZON_TEXT)
    err = pytest.raises(DataError, load_amazon, tmp_path).value
    assert (err.path, err.message) == (str(tmp_path / "interactions.csv"), "file not found")


def test_amazon_path_must_be_a_folder(tmp_path):
    err = pytest.raises(DataError, load_amazon, tmp_path / "nope").value
    assert "must be a folder" in err.message
