"""Downloading data sets by name: a real HTTP server on 127.0.0.1 serves small archives built here."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile

import pytest

from tailwise.data import load_amazon, load_movielens
from tailwise.data.download import Remote, fetch
from tailwise.errors import DataError
from tailwise.testing.fileserver import FileServer

RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.0,964981247\n2,2,5.0,964982224\n2,3,2.5,964983815\n"
MOVIES = 'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,Jumanji (1995),Adventure\n3,"Heat, The (1995)",Crime\n'


def latest_zip(top: str = "ml-latest-small") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{top}/ratings.csv", RATINGS)
        zf.writestr(f"{top}/movies.csv", MOVIES)
        zf.writestr(f"{top}/README.txt", "test archive")
    return buf.getvalue()


def md5_file(name: str, data: bytes) -> bytes:
    return f"MD5 ({name}) = {hashlib.md5(data).hexdigest()}\n".encode()


@pytest.fixture
def server():
    with FileServer() as srv:
        yield srv


def test_download_verify_unpack_then_cache_hit_offline(server, tmp_path):
    data = latest_zip()
    server.files = {"/ml-latest-small.zip": data, "/ml-latest-small.zip.md5": md5_file("ml-latest-small.zip", data)}
    ds = load_movielens("ml-latest-small", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 4)
    assert ds.texts()[ds.items.index("3")] == "Heat, The (1995). Crime"
    folder = tmp_path / "movielens" / "ml-latest-small"
    assert (folder / "ratings.csv").is_file()
    assert not list(tmp_path.glob("movielens/*.zip*"))  # archive removed once unpacked
    record = json.loads((tmp_path / "checksums.json").read_text())["movielens/ml-latest-small.zip"]
    assert record["md5"] == hashlib.md5(data).hexdigest()
    served = len(server.requests)
    server.stop()  # offline from here on: the cache must do
    again = load_movielens("ml-latest-small", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert again.n_interactions == 4 and len(server.requests) == served


def test_env_vars_choose_cache_and_mirror(server, tmp_path, monkeypatch):
    data = latest_zip("ml-32m")
    server.files = {"/ml-32m.zip": data, "/ml-32m.zip.md5": md5_file("ml-32m.zip", data)}
    monkeypatch.setenv("TAILWISE_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("TAILWISE_MOVIELENS_URL", server.url + "/")
    ds = load_movielens("ml-32m", progress=False)
    assert ds.n_items == 3 and ds.name == "ml-32m"
    assert (tmp_path / "cache" / "movielens" / "ml-32m" / ".tailwise-complete").is_file()


def test_publisher_md5_mismatch_keeps_nothing(server, tmp_path):
    data = latest_zip()
    server.files = {"/ml-latest-small.zip": data, "/ml-latest-small.zip.md5": md5_file("x", b"other bytes")}
    with pytest.raises(DataError, match="checksum mismatch.*publisher's MD5"):
        load_movielens("ml-latest-small", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "checksums.json"]
    assert not (tmp_path / "movielens" / "ml-latest-small").exists()


def test_pinned_md5_checks_an_archive_placed_by_hand(tmp_path):
    """ml-1m's MD5 is pinned: a wrong file placed by hand is refused, offline, and left in place."""
    placed = tmp_path / "movielens" / "ml-1m.zip"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(latest_zip("ml-1m"))
    with pytest.raises(DataError, match="c4d9eecfca2ab87c1945afe126590906") as err:
        load_movielens("ml-1m", cache_dir=tmp_path, progress=False)
    assert str(placed) in str(err.value)
    assert placed.is_file() and not (tmp_path / "movielens" / "ml-1m").exists()


def test_offline_message_names_url_and_where_to_put_the_file(tmp_path):
    with FileServer() as srv:
        url = srv.url  # a port nothing listens on once stopped
    with pytest.raises(DataError) as err:
        load_movielens("ml-1m", cache_dir=tmp_path, base_url=url, progress=False)
    msg = str(err.value)
    assert f"could not download {url}/ml-1m.zip" in msg
    assert "by hand" in msg and str(tmp_path / "movielens" / "ml-1m.zip") in msg
    assert not list(tmp_path.rglob("*.zip*"))


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    data = latest_zip()
    server.files = {"/ml-latest-small.zip": data, "/ml-latest-small.zip.md5": md5_file("z", data)}
    part = tmp_path / "movielens" / "ml-latest-small.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:100])
    ds = load_movielens("ml-latest-small", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert ds.n_interactions == 4
    zip_requests = [r for r in server.requests if r[0] == "/ml-latest-small.zip"]
    assert zip_requests == [("/ml-latest-small.zip", "bytes=100-", len(data) - 100)]
    assert not part.exists()


def test_unknown_name_and_missing_folder(tmp_path):
    with pytest.raises(DataError, match="ml-1m, ml-latest-small"):
        load_movielens(tmp_path / "nowhere")


def test_progress_bar_goes_to_stderr(server, tmp_path, capsys):
    server.files = {"/f.bin": b"x" * 5000}
    got = fetch(Remote("f.bin", server.url + "/f.bin"), tmp_path, progress=True)
    assert got.read_bytes() == b"x" * 5000
    assert "f.bin" in capsys.readouterr().err


def test_100k_format_and_extra_text_file(tmp_path):
    root = tmp_path / "ml-100k"
    root.mkdir()
    (root / "u.data").write_text("1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n")
    flags = ["0"] * 19
    action, comedy = flags.copy(), flags.copy()
    action[1], comedy[5] = "1", "1"
    (root / "u.item").write_bytes(
        ("1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(comedy) + "\n"
         "2|GoldenEye (1995)|01-Jan-1995||http://x|" + "|".join(action) + "\n"
         "3|Café (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n").encode("latin-1")
    )  # fmt: skip
    extra = tmp_path / "plots.csv"
    extra.write_text("movieId,plot,director\n1,Toys come alive.,John Lasseter\n")
    ds = load_movielens(root, extra_text=extra)
    assert (ds.n_users, ds.n_items) == (2, 3)
    assert ds.texts()[ds.items.index("1")] == "Toy Story (1995). Comedy. Toys come alive.. John Lasseter"
    assert ds.texts()[ds.items.index("2")] == "GoldenEye (1995). Action"
    assert ds.texts()[ds.items.index("3")] == "Café (1995)"
    only_plot = load_movielens(root, text_cols=("title", "plot"), extra_text=extra)
    assert only_plot.texts()[only_plot.items.index("1")] == "Toy Story (1995). Toys come alive."


def _gz_lines(records: list[dict]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())


def test_amazon_2023_category_records_sha256_and_checks_later_downloads(server, tmp_path):
    reviews = _gz_lines([
        {"user_id": "U1", "parent_asin": "B1", "rating": 5.0, "timestamp": 1588687728923, "text": "great"},
        {"user_id": "U1", "parent_asin": "B2", "rating": 3.0, "timestamp": 1588687729000},
        {"user_id": "U2", "parent_asin": "B2", "rating": 4.0, "timestamp": 1588687800000},
    ])  # fmt: skip
    meta = _gz_lines([
        {"parent_asin": "B1", "title": "Rose soap", "categories": ["Beauty", "Soap"], "store": "Acme"},
        {"parent_asin": "B2", "title": "Comb", "categories": [], "store": None},
    ])  # fmt: skip
    server.files = {
        "/review_categories/All_Beauty.jsonl.gz": reviews,
        "/meta_categories/meta_All_Beauty.jsonl.gz": meta,
    }
    ds = load_amazon("All_Beauty", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 2, 3)
    assert ds.texts()[ds.items.index("B1")] == "Rose soap. Beauty, Soap. Acme"
    assert int(ds.timestamp.max()) == 1588687800
    records = json.loads((tmp_path / "checksums.json").read_text())
    assert records["amazon-2023/All_Beauty/reviews.jsonl.gz"]["sha256"] == hashlib.sha256(reviews).hexdigest()
    # the cached copy is used as is; a fresh download that differs from the first is refused
    (tmp_path / "amazon-2023" / "All_Beauty" / "reviews.jsonl.gz").unlink()
    server.files["/review_categories/All_Beauty.jsonl.gz"] = _gz_lines([{"user_id": "U9", "parent_asin": "B1"}])
    with pytest.raises(DataError, match="the first download recorded"):
        load_amazon("All_Beauty", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert not (tmp_path / "amazon-2023" / "All_Beauty" / "reviews.jsonl.gz").exists()


def test_amazon_unknown_category(tmp_path):
    with pytest.raises(DataError, match="All_Beauty"):
        load_amazon(tmp_path / "no_such")


def test_bad_zip_is_a_data_error(server, tmp_path):
    server.files = {"/ml-latest-small.zip": b"not a zip", "/ml-latest-small.zip.md5": md5_file("z", b"not a zip")}
    with pytest.raises(DataError, match="not a valid zip"):
        load_movielens("ml-latest-small", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert not (tmp_path / "movielens" / "ml-latest-small").exists()



def slice_zip(top: str) -> bytes:
    """A MovieLens-format archive of the bundled sample's first 30 users."""
    import pandas as pd

    from tailwise.data import demo_path

    r = pd.read_csv(demo_path() / "ratings.csv")
    r = r[r.userId <= 30]
    m = pd.read_csv(demo_path() / "movies.csv")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{top}/ratings.csv", r.to_csv(index=False))
        zf.writestr(f"{top}/movies.csv", m.to_csv(index=False))
    return buf.getvalue()


def test_cli_takes_a_name_and_says_when_offline(server, tmp_path, monkeypatch, capsys):
    from tailwise.cli.main import main

    data = slice_zip("ml-latest-small")
    server.files = {"/ml-latest-small.zip": data, "/ml-latest-small.zip.md5": md5_file("z", data)}
    monkeypatch.setenv("TAILWISE_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("TAILWISE_MOVIELENS_URL", server.url)
    out = tmp_path / "results.csv"
    assert main(["evaluate", "--movielens", "ml-latest-small", "--models", "popular", "--output", str(out)]) == 0
    assert out.read_text().startswith("dataset,split,model")
    monkeypatch.setenv("TAILWISE_MOVIELENS_URL", "http://127.0.0.1:9")  # nothing listens there
    capsys.readouterr()
    assert main(["evaluate", "--movielens", "ml-1m", "--models", "popular"]) == 2
    err = capsys.readouterr().err
    assert "could not download http://127.0.0.1:9/ml-1m.zip" in err and "by hand" in err
    assert "Traceback" not in err
