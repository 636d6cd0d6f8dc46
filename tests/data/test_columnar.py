"""The columnar (pyarrow) loading path against the row path: the same Dataset, the same warnings,
and the row path's located errors whenever a file is not plain."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pandas as pd
import pytest

from tailwise.data import Columns, columnar, load_dataset
from tailwise.errors import DataError

pytest.importorskip("pyarrow")

ITEMS = "item_id,title,brand\ni1,Red kettle,Acme\ni2, Blue lamp ,N/A\ni3,Cold item,\n"

#: name -> (interactions file content, load_dataset options, items file content or None)
CASES = {
    "plain": ("user_id,item_id\nu1,i1\nu2,i1\nu1,i2\n", {}, None),
    "rating and timestamp": (
        "user_id,item_id,rating,timestamp\nu1,i1,4,100\nu2,i1,3.5,200\nu1,i2,5,300\n",
        {},
        None,
    ),
    "extra columns and spaces": (
        "session, user_id ,item_id,rating\ns, u1 ,i1 ,1e0\ns,u2,i1,+2.5\ns,u1,i2,.5\n",
        {},
        None,
    ),
    "quoted with newlines": ('user_id,item_id,note\n"u,1","i1","a\nb"\nu2,i1,x\n', {}, None),
    "blank lines and CRLF": ("user_id,item_id\r\nu1,i1\r\n\r\nu2,i2\r\n", {}, None),
    "BOM": ("\ufeffuser_id,item_id\nu1,i1\nu2,i1\n", {}, None),
    "numeric ids": ("user_id,item_id\n1,10\n02,10\n1,7\n", {}, None),
    "duplicates last by time": (
        "user_id,item_id,timestamp\nu1,i1,5\nu2,i2,1\nu1,i1,3\nu3,i1,2\nu2,i2,0\n",
        {},
        None,
    ),
    "duplicates first": ("user_id,item_id\nu1,i1\nu2,i2\nu1,i1\n", {"on_duplicate": "first"}, None),
    "duplicates last no time": ("user_id,item_id,rating\nu1,i1,1\nu2,i2,2\nu1,i1,3\n", {}, None),
    "with text": ("user_id,item_id\nu1,i2\nu2,i1\nu2,i4\n", {}, ITEMS),
    "drop missing text": (
        "user_id,item_id\nu1,i4\nu2,i1\nu1,i2\n",
        {"on_missing_text": "drop"},
        ITEMS,
    ),
    "text cols": ("user_id,item_id\nu1,i2\n", {"text_cols": ["brand"]}, ITEMS),
    "columns named": (
        "who;what;when\nu1;i1;7\nu2;i1;8\n",
        {"columns": Columns("who", "what", None, "when"), "sep": ";"},
        None,
    ),
    "no timestamp": (
        "user_id,item_id,timestamp\nu1,i1,7\n",
        {"columns": Columns(timestamp=None)},
        None,
    ),
    "spaces around numbers": ("user_id,item_id,timestamp\nu1,i1, 5\nu2,i1,6 \n", {}, None),
    "large and decimal numbers": (
        "user_id,item_id,rating,timestamp\nu1,i1,0.1,1700000000123\nu2,i1,2.675,9007199254740993\n",
        {},
        None,
    ),
    # the columnar path declines these; the row path handles them as before
    "dates": ("user_id,item_id,timestamp\nu1,i1,2024-01-02\nu2,i1,2024-03-04\n", {}, None),
    "all-empty row": ("user_id,item_id\nu1,i1\n,\nu2,i1\n", {}, None),
    "latin-1": ("user_id,item_id\nu\xe9,i1\n", {"encoding": "latin-1"}, None),
    "double colon": ("user_id::item_id\nu1::i1\n", {"sep": "::"}, None),
}

#: bad files: the error must be the row path's, with its line and field
BAD = {
    "empty user": ("user_id,item_id\nu1,i1\n ,i2\n", {}, None),
    "bad rating": ("user_id,item_id,rating\nu1,i1,4\nu2,i1,abc\n", {}, None),
    "infinite rating": ("user_id,item_id,rating\nu1,i1,inf\n", {}, None),
    "huge rating": ("user_id,item_id,rating\nu1,i1,1e300\n", {}, None),
    "missing column": ("user,item_id\nu1,i1\n", {}, None),
    "short row": ("user_id,item_id,rating\nu1,i1\n", {}, None),
    "long row": ("user_id,item_id\nu1,i1,9\n", {}, None),
    "duplicate error": ("user_id,item_id\nu1,i1\nu1,i1\n", {"on_duplicate": "error"}, None),
    "missing text error": ("user_id,item_id\nu1,i9\n", {"on_missing_text": "error"}, ITEMS),
    "item listed twice": ("user_id,item_id\nu1,i1\n", {}, "item_id,title\ni1,a\ni1,b\n"),
    "bad items and bad log": ("user_id,item_id\n,i1\n", {}, "item_id,title\ni1,a\ni1,b\n"),
    "header only": ("user_id,item_id\n", {}, None),
}


def _files(tmp_path, content, items, encoding="utf-8", name="log.csv"):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))
    items_path = None
    if items is not None:
        items_path = tmp_path / "items.csv"
        items_path.write_text(items, encoding="utf-8", newline="")
    return path, items_path


def _row_path(monkeypatch):
    def decline(encoding):
        raise columnar.Fallback("test")

    monkeypatch.setattr(columnar, "usable", decline)


def _same(a, b):
    assert a.users == b.users and a.items == b.items
    assert (
        a.users.ids.tolist() == b.users.ids.tolist()
        and a.items.ids.tolist() == b.items.ids.tolist()
    )
    np.testing.assert_array_equal(a.user_idx, b.user_idx)
    np.testing.assert_array_equal(a.item_idx, b.item_idx)
    for x, y in ((a.rating, b.rating), (a.timestamp, b.timestamp)):
        assert (x is None) == (y is None)
        if x is not None:
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    assert (a.item_text is None) == (b.item_text is None)
    if a.item_text is not None:
        assert a.item_text.tolist() == b.item_text.tolist()
    assert a.name == b.name and a.user_idx.dtype == b.user_idx.dtype


@pytest.mark.parametrize("case", CASES)
def test_same_dataset_as_row_path(case, tmp_path, monkeypatch, caplog):
    content, options, items = CASES[case]
    path, items_path = _files(tmp_path, content, items, options.get("encoding", "utf-8"))
    with caplog.at_level(logging.WARNING):
        fast = load_dataset(path, items_path, **options)
    fast_log = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    _row_path(monkeypatch)
    with caplog.at_level(logging.WARNING):
        slow = load_dataset(path, items_path, **options)
    _same(fast, slow)
    assert fast_log == [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("case", BAD)
def test_same_error_as_row_path(case, tmp_path, monkeypatch):
    content, options, items = BAD[case]
    path, items_path = _files(tmp_path, content, items)
    with pytest.raises(DataError) as fast:
        load_dataset(path, items_path, **options)
    _row_path(monkeypatch)
    with pytest.raises(DataError) as slow:
        load_dataset(path, items_path, **options)
    assert str(fast.value) == str(slow.value)
    assert fast.value.line == slow.value.line or case == "missing column"


def test_parquet_with_integer_ids_and_gzip_csv(tmp_path, monkeypatch):
    frame = pd.DataFrame(
        {
            "user_id": [3, 1, 3],
            "item_id": ["b", "a", "a"],
            "rating": np.array([1, 2, 3], np.float32),
            "timestamp": [10, 5, 7],
        }
    )
    frame.to_parquet(tmp_path / "log.parquet")
    gz = tmp_path / "log.csv.gz"
    gz.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    fast = [load_dataset(tmp_path / "log.parquet"), load_dataset(gz)]
    _row_path(monkeypatch)
    slow = [load_dataset(tmp_path / "log.parquet"), load_dataset(gz)]
    for a, b in zip(fast, slow):
        _same(a, b)


def test_uses_the_columnar_path(tmp_path, monkeypatch):
    path, _ = _files(tmp_path, CASES["rating and timestamp"][0], None)
    monkeypatch.setattr("tailwise.data.loaders.read_table", None)  # the row path would fail
    assert load_dataset(path).n_interactions == 3


def test_keep_once_matches_pandas():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 30, size=200)
    order = rng.permutation(200)
    for policy in ("first", "last"):
        dup = pd.Series(keys[order]).duplicated(keep=policy).to_numpy()
        assert columnar.keep_once(keys, order, policy).tolist() == np.sort(order[~dup]).tolist()


def test_encode_ids_over_chunks():
    import pyarrow as pa

    plain = pa.chunked_array([pa.array(["b", " a"]), pa.array(["c", "a\x00", "b"])])
    codes, ids = columnar.encode_ids(plain)
    assert ids == ["b", "a", "c"] and codes.tolist() == [0, 1, 2, 1, 0]
    parts = [pa.array(["x", "y"]).dictionary_encode(), pa.array(["z", "x"]).dictionary_encode()]
    codes, ids = columnar.encode_ids(pa.chunked_array(parts))
    assert ids == ["x", "y", "z"] and codes.tolist() == [0, 1, 2, 0]
    codes, ids = columnar.encode_ids(pa.chunked_array([pa.array([7, 3]), pa.array([7])]))
    assert ids == ["7", "3"] and codes.tolist() == [0, 1, 0]
