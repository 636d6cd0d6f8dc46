"""The generic loader: formats, columns, policies, and bad inputs located by path, line, field."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pandas as pd
import pytest

from tailwise.data import Columns, load_dataset
from tailwise.data.tables import read_table
from tailwise.errors import DataError

RATINGS = "user_id,item_id,rating,timestamp\nu1,i1,4,100\nu2,i1,3.5,200\nu1,i2,5,300\n"


def _check(ds, rating=True, timestamp=True):
    assert ds.users.ids.tolist() == ["u1", "u2"]
    assert ds.items.ids.tolist() == ["i1", "i2"]
    assert ds.user_idx.tolist() == [0, 1, 0]
    assert ds.item_idx.tolist() == [0, 0, 1]
    if rating:
        assert ds.rating.tolist() == [4.0, 3.5, 5.0]
    else:
        assert ds.rating is None
    if timestamp:
        assert ds.timestamp.tolist() == [100.0, 200.0, 300.0]
    else:
        assert ds.timestamp is None


def _error(func, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        func(*args, **kwargs)
    return info.value


# ---------------------------------------------------------------------- formats


def test_csv(write):
    path = write("ratings.csv", RATINGS)
    ds = load_dataset(path)
    _check(ds)
    assert ds.name == "ratings"
    assert ds.item_text is None


def test_tsv(write):
    ds = load_dataset(write("ratings.tsv", RATINGS.replace(",", "\t")))
    _check(ds)


def test_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "ratings.parquet"
    pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u1"],
            "item_id": ["i1", "i1", "i2"],
            "rating": [4.0, 3.5, 5.0],
            "timestamp": [100, 200, 300],
        }
    ).to_parquet(path)
    _check(load_dataset(path))


def test_parquet_integer_ids_become_strings(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "r.parquet"
    pd.DataFrame({"user_id": [7, 8], "item_id": [1, 1]}).to_parquet(path)
    ds = load_dataset(path)
    assert ds.users.ids.tolist() == ["7", "8"]
    assert ds.items.ids.tolist() == ["1"]


def test_jsonl(write):
    path = write(
        "ratings.jsonl",
        '{"user_id": "u1", "item_id": "i1", "rating": 4, "timestamp": 100}\n'
        "\n"
        '{"user_id": "u2", "item_id": "i1", "rating": 3.5, "timestamp": 200}\n'
        '{"user_id": "u1", "item_id": "i2", "rating": 5, "timestamp": 300, "extra": null}\n',
    )
    _check(load_dataset(path))


def test_jsonl_numbers_as_ids_and_lists_as_text(write):
    inter = write("r.jsonl", '{"user_id": 1, "item_id": 10}\n{"user_id": 2, "item_id": 11}\n')
    items = write(
        "items.jsonl",
        '{"item_id": 10, "title": "Ten", "tags": ["x", "y"]}\n{"item_id": 11, "title": "Eleven"}\n',
    )
    ds = load_dataset(inter, items)
    assert ds.users.ids.tolist() == ["1", "2"]
    assert ds.texts() == ["Ten. x|y", "Eleven"]


def test_gzip_csv(write):
    _check(load_dataset(write("ratings.csv.gz", gzip.compress(RATINGS.encode()))))


def test_explicit_format_and_separator(write):
    path = write("ratings.data", RATINGS.replace(",", ";"))
    _check(load_dataset(path, fmt="csv", sep=";"))


def test_double_colon_separator(write):
    path = write("ratings.txt", RATINGS.replace(",", "::"))
    _check(load_dataset(path, sep="::"))


def test_utf8_bom_and_crlf(write):
    _check(load_dataset(write("r.csv", "\ufeff" + RATINGS.replace("\n", "\r\n"))))


def test_latin1_encoding(write):
    inter = write("r.csv", "user_id,item_id\nu1,i1\n")
    items = write("items.csv", "item_id,title\ni1,Mis\xe9rables\n".encode("latin-1"))
    assert load_dataset(inter, items, encoding="latin-1").texts() == ["Misérables"]


def test_blank_lines_are_skipped(write):
    path = write("r.csv", "user_id,item_id\n\nu1,i1\n\n\nu2,i2\n\n")
    ds = load_dataset(path)
    assert ds.n_interactions == 2


def test_ids_are_stripped(write):
    ds = load_dataset(write("r.csv", "user_id,item_id\n u1 ,i1\nu1, i1 \n"), on_duplicate="first")
    assert ds.users.ids.tolist() == ["u1"]
    assert ds.n_interactions == 1


# ---------------------------------------------------------------------- columns


def test_custom_column_names(write):
    path = write("r.csv", "who,what,stars,when\nu1,i1,4,100\nu2,i1,3.5,200\nu1,i2,5,300\n")
    _check(load_dataset(path, columns=Columns("who", "what", "stars", "when")))


def test_rating_and_timestamp_are_optional(write):
    _check(load_dataset(write("r.csv", "user_id,item_id\nu1,i1\nu2,i1\nu1,i2\n")), False, False)


def test_none_ignores_rating_and_timestamp_columns(write):
    path = write("r.csv", RATINGS)
    _check(load_dataset(path, columns=Columns(rating=None, timestamp=None)), False, False)


def test_auto_only_uses_columns_of_the_default_names(write):
    path = write("r.csv", "user_id,item_id,score,time\nu1,i1,x,y\nu2,i1,x,y\nu1,i2,x,y\n")
    _check(load_dataset(path), False, False)


def test_timestamps_as_iso_dates(write):
    path = write(
        "r.csv",
        "user_id,item_id,timestamp\n"
        "u1,i1,2020-01-01\n"
        "u2,i1,2020-01-01T00:00:01Z\n"
        "u1,i2,2020-01-01T02:00:00+01:00\n",
    )
    ds = load_dataset(path)
    # 2020-01-01T00:00:00Z is 1,577,836,800 s after the epoch
    assert ds.timestamp.tolist() == [1577836800.0, 1577836801.0, 1577840400.0]


def test_timestamps_as_numbers_keep_fractions(write):
    path = write("r.csv", "user_id,item_id,timestamp\nu1,i1,1.5\nu2,i1,-2\n")
    assert load_dataset(path).timestamp.tolist() == [1.5, -2.0]


# ---------------------------------------------------------------------- item text


ITEMS = "item_id,title,genre,year\ni1,One,Drama,N/A\ni2,Two,,2001\ni9,Cold,Comedy,1999\n"


def test_items_file_joins_every_other_column_and_keeps_cold_items(write):
    ds = load_dataset(write("r.csv", RATINGS), write("items.csv", ITEMS))
    assert ds.items.ids.tolist() == ["i1", "i2", "i9"]
    assert ds.texts() == ["One. Drama", "Two. 2001", "Cold. Comedy. 1999"]
    assert ds.item_counts.tolist() == [2, 1, 0]


def test_text_cols_selects_and_orders_columns(write):
    inter, items = write("r.csv", RATINGS), write("items.csv", ITEMS)
    ds = load_dataset(inter, items, text_cols=["year", "title"])
    assert ds.texts() == ["One", "2001. Two", "1999. Cold"]


def test_item_col_of_the_items_file(write):
    items = write("items.tsv", "asin\ttitle\ni1\tOne\ni2\tTwo\n")
    ds = load_dataset(write("r.csv", RATINGS), items, item_col="asin")
    assert ds.texts() == ["One", "Two"]


def test_missing_text_column_is_located(write):
    items = write("items.csv", ITEMS)
    err = _error(load_dataset, write("r.csv", RATINGS), items, text_cols=["plot"])
    assert (err.path, err.line, err.field) == (str(items), 1, "plot")
    assert "item_id, title, genre, year" in err.message


MISSING_TEXT_ITEMS = "item_id,title\ni1,One\ni3,Three\ni4,\n"
MISSING_TEXT_INTER = "user_id,item_id\nu1,i1\nu1,i2\nu2,i1\nu2,i4\n"


def test_missing_text_keep(write, caplog):
    inter, items = write("r.csv", MISSING_TEXT_INTER), write("items.csv", MISSING_TEXT_ITEMS)
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(inter, items, on_missing_text="keep")
    assert ds.items.ids.tolist() == ["i1", "i2", "i4", "i3"]
    assert ds.texts() == ["One", "", "", "Three"]
    assert ds.n_interactions == 4
    assert "2 items have no text" in caplog.text


def test_missing_text_drop(write):
    inter, items = write("r.csv", MISSING_TEXT_INTER), write("items.csv", MISSING_TEXT_ITEMS)
    ds = load_dataset(inter, items, on_missing_text="drop")
    assert ds.items.ids.tolist() == ["i1", "i3"]  # i3 stays as a cold item with text
    assert ds.texts() == ["One", "Three"]
    assert ds.users.ids.tolist() == ["u1", "u2"]
    assert ds.n_interactions == 2
    assert ds.item_counts.tolist() == [2, 0]


def test_missing_text_error_names_the_first_item_and_its_line(write):
    inter, items = write("r.csv", MISSING_TEXT_INTER), write("items.csv", MISSING_TEXT_ITEMS)
    err = _error(load_dataset, inter, items, on_missing_text="error")
    assert (err.path, err.line, err.field) == (str(inter), 3, "item_id")
    assert "2 items have no text" in err.message
    assert "'i2'" in err.message and "np.str_" not in err.message


def test_missing_text_drop_of_everything_is_an_error(write):
    inter = write("r.csv", "user_id,item_id\nu1,i2\n")
    items = write("items.csv", "item_id,title\ni1,One\n")
    err = _error(load_dataset, inter, items, on_missing_text="drop")
    assert err.path == str(inter)
    assert "no interactions left" in err.message


def test_item_listed_twice_in_the_items_file(write):
    items = write("items.csv", "item_id,title\ni1,One\ni2,Two\ni1,Uno\n")
    err = _error(load_dataset, write("r.csv", RATINGS), items)
    assert (err.path, err.line, err.field) == (str(items), 4, "item_id")
    assert "'i1' is listed twice (first on line 2)" in err.message


def test_empty_item_id_in_the_items_file(write):
    items = write("items.csv", "item_id,title\ni1,One\n ,Nobody\n")
    err = _error(load_dataset, write("r.csv", RATINGS), items)
    assert (err.path, err.line, err.field) == (str(items), 3, "item_id")


# ---------------------------------------------------------------------- duplicates

DUPS = "user_id,item_id,rating,timestamp\nu1,i1,1,30\nu2,i1,5,5\nu1,i1,2,10\nu1,i1,3,20\n"


def test_duplicates_error_names_both_lines(write):
    path = write("r.csv", DUPS)
    err = _error(load_dataset, path, on_duplicate="error")
    assert (err.path, err.line, err.field) == (str(path), 4, "item_id")
    assert "duplicate pair (user 'u1', item 'i1'), first seen on line 2" in err.message


def test_duplicates_last_keeps_the_latest_by_timestamp(write, caplog):
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(write("r.csv", DUPS), on_duplicate="last")
    assert ds.n_interactions == 2
    assert ds.rating.tolist() == [1.0, 5.0]  # line 2 has the latest time, 30
    assert ds.timestamp.tolist() == [30.0, 5.0]
    assert "2 duplicate (user, item) pairs" in caplog.text


def test_duplicates_first_keeps_the_earliest_by_timestamp(write):
    ds = load_dataset(write("r.csv", DUPS), on_duplicate="first")
    assert ds.rating.tolist() == [5.0, 2.0]  # file order kept among the survivors
    assert ds.timestamp.tolist() == [5.0, 10.0]


def test_duplicates_without_timestamps_follow_file_order(write):
    path = write("r.csv", "user_id,item_id,rating\nu1,i1,1\nu2,i1,5\nu1,i1,2\nu1,i1,3\n")
    assert load_dataset(path, on_duplicate="last").rating.tolist() == [5.0, 3.0]
    assert load_dataset(path, on_duplicate="first").rating.tolist() == [1.0, 5.0]


def test_duplicates_with_equal_timestamps_follow_file_order(write):
    path = write("r.csv", "user_id,item_id,rating,timestamp\nu1,i1,1,7\nu1,i1,2,7\n")
    assert load_dataset(path, on_duplicate="last").rating.tolist() == [2.0]
    assert load_dataset(path, on_duplicate="first").rating.tolist() == [1.0]


def test_default_policy_is_last(write):
    assert load_dataset(write("r.csv", DUPS)).rating.tolist() == [1.0, 5.0]


def test_unknown_policies(write):
    path = write("r.csv", RATINGS)
    with pytest.raises(ValueError, match="on_duplicate"):
        load_dataset(path, on_duplicate="sum")
    with pytest.raises(ValueError, match="on_missing_text"):
        load_dataset(path, write("items.csv", ITEMS), on_missing_text="ignore")


# ---------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), None, None)
    assert "file not found" in err.message
    assert str(err).startswith(str(path))


def test_missing_items_file(write, tmp_path):
    path = tmp_path / "items.csv"
    err = _error(load_dataset, write("r.csv", RATINGS), path)
    assert (err.path, err.line, err.field) == (str(path), None, None)


def test_folder_instead_of_file(tmp_path):
    path = tmp_path / "d.csv"
    path.mkdir()
    err = _error(load_dataset, path)
    assert err.path == str(path)
    assert "folder" in err.message


def test_missing_column_lists_the_columns_there_are(write):
    path = write("r.csv", "user,item_id,rating\nu1,i1,4\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 1, "user_id")
    assert "the file has columns: user, item_id, rating" in err.message


def test_missing_custom_column(write):
    path = write("r.csv", RATINGS)
    err = _error(load_dataset, path, columns=Columns(rating="stars"))
    assert (err.path, err.line, err.field) == (str(path), 1, "stars")


def test_non_numeric_rating_names_the_first_bad_line(write):
    path = write("r.csv", "user_id,item_id,rating\nu1,i1,4\nu2,i1,abc\nu1,i2,\nu2,i2,5\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 3, "rating")
    assert "found 'abc' (2 bad rows in all)" in err.message
    assert "np.str_" not in err.message
    assert str(err).startswith(f"{path}, line 3, field 'rating': ")


@pytest.mark.parametrize("value", ["", "nan", "inf", "-inf", "4 stars"])
def test_non_finite_or_empty_rating(write, value):
    path = write("r.csv", f"user_id,item_id,rating\nu1,i1,4\nu1,i2,{value}\n")
    err = _error(load_dataset, path)
    assert (err.line, err.field) == (3, "rating")


def test_bad_rating_in_parquet_names_the_row(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "r.parquet"
    frame = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["a", "b"], "rating": ["4", "x"]})
    frame.to_parquet(path)
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 2, "rating")


@pytest.mark.parametrize(
    ("rows", "line", "shown"),
    [
        ("u1,i1,100\nu1,i2,101\nu2,i1,102\nu2,i2,soon\n", 5, "'soon'"),  # a word among numbers
        ("u1,i1,soon\nu1,i2,101\nu2,i1,102\nu2,i2,103\n", 2, "'soon'"),
        ("u1,i1,2020-01-01\nu1,i2,2020-01-02\nu2,i1,2020-01-03\nu2,i2,later\n", 5, "'later'"),
        ("u1,i1,2020-01-01\nu1,i2,2020-01-02\nu2,i1,12\nu2,i2,2020-01-03\n", 4, "'12'"),  # a number among dates
    ],
)
def test_bad_timestamp_names_its_own_line_and_value(write, rows, line, shown):
    path = write("r.csv", "user_id,item_id,timestamp\n" + rows)
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), line, "timestamp")
    assert shown in err.message


@pytest.mark.parametrize("value", ["1e308", "-3.5e38", "4e38"])
def test_rating_beyond_float32_is_an_error(write, value):
    path = write("r.csv", f"user_id,item_id,rating\nu1,i1,4\nu1,i2,{value}\n")
    with np.errstate(over="raise"):  # no raw NumPy overflow on the way
        err = _error(load_dataset, path)
    assert (err.line, err.field) == (3, "rating")
    assert f"'{value}' is out of range" in err.message


def test_rating_at_float32_max_is_kept(write):
    path = write("r.csv", "user_id,item_id,rating\nu1,i1,4\nu1,i2,3.4e38\n")
    assert np.isfinite(load_dataset(path).rating).all()


def test_bad_timestamp(write):
    path = write("r.csv", "user_id,item_id,timestamp\nu1,i1,2020-01-01\nu2,i1,yesterday\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 3, "timestamp")
    assert "'yesterday'" in err.message


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_empty_file(write, content):
    path = write("r.csv", content)
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), None, None)
    assert "empty" in err.message


def test_header_but_no_rows(write):
    path = write("r.csv", "user_id,item_id,rating\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 2, None)
    assert "header but no rows" in err.message


def test_header_and_blank_lines_but_no_rows(write):
    path = write("r.csv", "user_id,item_id\n\n\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line) == (str(path), 2)


def test_undecodable_bytes_name_their_line(write):
    path = write("r.csv", b"user_id,item_id\nu1,i1\nu\xff,i2\nu3,i3\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 3, None)
    assert "0xff" in err.message and "utf-8" in err.message


def test_undecodable_bytes_in_gzip_name_their_line(write):
    path = write("r.csv.gz", gzip.compress(b"user_id,item_id\nu1,i1\nu2,i2\nu\xfe,i4\n"))
    err = _error(load_dataset, path)
    assert (err.path, err.line) == (str(path), 4)


def test_not_gzip(write):
    path = write("r.csv.gz", b"user_id,item_id\n")
    err = _error(load_dataset, path)
    assert err.path == str(path)
    assert "gzip" in err.message


@pytest.mark.parametrize("user", ["", "   "])
def test_empty_user_id(write, user):
    path = write("r.csv", f"user_id,item_id\nu1,i1\nu2,i2\n{user},i3\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 4, "user_id")
    assert "user id is empty" in err.message


def test_empty_item_id_with_custom_column(write):
    path = write("r.csv", "u,i\nu1,\n")
    err = _error(load_dataset, path, columns=Columns("u", "i"))
    assert (err.path, err.line, err.field) == (str(path), 2, "i")


def test_invalid_json_line(write):
    path = write(
        "r.jsonl",
        '{"user_id": "u1", "item_id": "i1"}\n\n{"user_id": "u2", "item_id": }\n{"user_id": "u3"}\n',
    )
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 3, None)
    assert "invalid JSON" in err.message


def test_json_line_that_is_not_an_object(write):
    path = write("r.jsonl", '{"user_id": "u1", "item_id": "i1"}\n["u2", "i2"]\n')
    err = _error(load_dataset, path)
    assert (err.path, err.line) == (str(path), 2)


def test_jsonl_bad_value_names_the_file_line(write):
    path = write(
        "r.jsonl",
        '\n{"user_id": "u1", "item_id": "i1", "rating": 1}\n'
        '\n{"user_id": "u2", "item_id": "i1", "rating": "x"}\n',
    )
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 4, "rating")


def test_quoted_field_spanning_lines_keeps_line_numbers_exact(write):
    path = write(
        "r.csv",
        'user_id,item_id,rating,note\nu1,i1,4,"two\nlines"\nu2,i2,5,"one, line"\nu3,i3,bad,x\n',
    )
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 5, "rating")


def test_quoted_multiline_field_with_crlf_and_blank_lines(write):
    path = write(
        "r.csv",
        'user_id,item_id,rating,note\r\nu1,i1,4,"a\r\n\r\nb"\r\n\r\nu2,i2,bad,x\r\n',
    )
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 6, "rating")


def test_quoted_multiline_field_then_duplicate_names_both_lines(write):
    path = write("r.csv", 'user_id,item_id,note\nu1,i1,"x\ny\nz"\nu2,i1,\nu1,i1,again\n')
    err = _error(load_dataset, path, on_duplicate="error")
    assert (err.line, err.field) == (6, "item_id")
    assert "first seen on line 2" in err.message


def test_crlf_line_numbers(write):
    path = write("r.csv", "user_id,item_id,rating\r\nu1,i1,1\r\n\r\nu2,i2,x\r\n")
    err = _error(load_dataset, path)
    assert (err.line, err.field) == (4, "rating")


def test_double_colon_file_with_wrong_number_of_fields(write):
    path = write("r.dat", "user_id::item_id::rating\nu1::i1::3\n\nu2::i2\nu3::i3::4\n")
    err = _error(load_dataset, path, fmt="csv", sep="::")
    assert (err.path, err.line, err.field) == (str(path), 4, None)
    assert "expected 3 fields separated by '::', found 2" in err.message


def test_double_colon_file_bad_value_line_skips_blank_lines(write):
    path = write("r.dat", "user_id::item_id::rating\n\nu1::i1::3\n\nu2::i2::x\n")
    err = _error(load_dataset, path, fmt="csv", sep="::")
    assert (err.path, err.line, err.field) == (str(path), 5, "rating")


def test_double_colon_header_only(write):
    path = write("r.dat", "user_id::item_id\n")
    err = _error(load_dataset, path, fmt="csv", sep="::")
    assert err.path == str(path)
    assert "no rows" in err.message


def test_double_colon_without_header_needs_names(write):
    path = write("r.dat", "u1::i1\n")
    err = _error(read_table, path, fmt="csv", sep="::", header=False)
    assert "no column names" in err.message
    t = read_table(path, fmt="csv", sep="::", header=False, names=["user_id", "item_id"])
    assert t.frame.to_dict("list") == {"user_id": ["u1"], "item_id": ["i1"]}
    assert t.lines.tolist() == [1]


def test_csv_row_with_too_many_fields(write):
    path = write("r.csv", "user_id,item_id\nu1,i1\nu2,i2,extra\n")
    err = _error(load_dataset, path)
    assert err.path == str(path)
    assert "Expected 2 fields in line 3, saw 3" in err.message


def test_csv_every_row_with_one_field_too_many_is_not_misread(write):
    # pandas would silently take the first field as the row index and shift every column
    path = write("r.csv", "user_id,item_id\nu1,i1,5\nu2,i2,4\n")
    err = _error(load_dataset, path)
    assert (err.path, err.line, err.field) == (str(path), 2, None)
    assert "more fields than the 2 column names" in err.message


def test_unknown_file_extension(write):
    path = write("r.xlsx", "whatever")
    err = _error(load_dataset, path)
    assert err.path == str(path)
    assert "cannot tell the format" in err.message


def test_unknown_explicit_format(write):
    err = _error(load_dataset, write("r.csv", RATINGS), fmt="xml")
    assert "unknown format 'xml'" in err.message


def test_corrupt_parquet(write):
    pytest.importorskip("pyarrow")
    path = write("r.parquet", b"not parquet at all")
    err = _error(load_dataset, path)
    assert (err.path, err.line) == (str(path), None)


def test_missing_parquet(tmp_path):
    path = tmp_path / "r.parquet"
    err = _error(load_dataset, path)
    assert (err.path, err.message) == (str(path), "file not found")


def test_data_error_is_a_value_error(write):
    with pytest.raises(ValueError):
        load_dataset(write("r.csv", ""))


def test_table_lines_match_rows(write):
    t = read_table(write("r.csv", 'a,b\n1,"x\ny"\n\n2,z\n'))
    assert t.frame.to_dict("list") == {"a": ["1", "2"], "b": ["x\ny", "z"]}
    assert t.lines.tolist() == [2, 5]
    assert t.lines.dtype == np.int64
