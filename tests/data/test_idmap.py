"""IdMap: a frozen bijection between external string ids and indices 0..n-1."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tailwise.data import IdMap


def test_round_trip_and_order():
    m = IdMap(["b", "a", "c"])
    assert len(m) == 3
    assert m.ids.tolist() == ["b", "a", "c"]
    assert [m.index(x) for x in ["b", "a", "c"]] == [0, 1, 2]
    assert [m.id(i) for i in range(3)] == ["b", "a", "c"]
    assert m.indices(["c", "b"]).tolist() == [2, 0]
    assert m.indices(["c", "b"]).dtype == np.int64


def test_ids_are_strings_so_numbers_and_text_name_the_same_id():
    m = IdMap([10, 20])
    assert m.ids.tolist() == ["10", "20"]
    assert m.index(10) == m.index("10") == 0
    assert 20 in m and "20" in m and 30 not in m
    assert isinstance(m.id(1), str)


def test_ids_are_read_only():
    m = IdMap(["a", "b"])
    with pytest.raises(ValueError):
        m.ids[0] = "z"


def test_unknown_id_raises_key_error_naming_it():
    m = IdMap(["a"])
    with pytest.raises(KeyError, match="zz"):
        m.index("zz")
    with pytest.raises(KeyError, match="zz"):
        m.indices(["a", "zz"])


def test_unknown_ids_map_to_missing_when_given():
    m = IdMap(["a", "b"])
    assert m.indices(["b", "zz", "a", "yy"], missing=-1).tolist() == [1, -1, 0, -1]
    assert m.indices([], missing=-1).tolist() == []


def test_duplicates_rejected_naming_the_id():
    with pytest.raises(ValueError, match="'x' occurs more than once"):
        IdMap(["x", "y", "x"])
    with pytest.raises(ValueError, match="more than once"):
        IdMap([1, "1"])  # the same id once both are strings


def test_trailing_nul_rejected_rather_than_silently_truncated():
    with pytest.raises(ValueError, match="NUL"):
        IdMap(["a", "a\x00"])


def test_empty_map():
    m = IdMap([])
    assert len(m) == 0
    assert "a" not in m
    assert m.indices([]).tolist() == []


def test_extend_keeps_existing_indices():
    m = IdMap(["a", "b"])
    e = m.extend(["c", "a", "d", "c", 5])
    assert e.ids.tolist() == ["a", "b", "c", "d", "5"]
    assert e.index("a") == 0 and e.index("b") == 1
    assert m.ids.tolist() == ["a", "b"]  # the original is unchanged
    assert m.extend(["b", "a"]) is m  # nothing new: the same map


def test_equality_and_hash():
    assert IdMap(["a", "b"]) == IdMap(["a", "b"])
    assert IdMap([1, 2]) == IdMap(["1", "2"])
    assert IdMap(["a", "b"]) != IdMap(["b", "a"])
    assert IdMap(["a"]) != IdMap(["a", "b"])
    assert IdMap(["a"]) != ["a"]
    assert hash(IdMap(["a", "b"])) == hash(IdMap(["a", "b"]))
    assert len({IdMap(["a"]), IdMap(["a"]), IdMap(["b"])}) == 2
    assert repr(IdMap(["a", "b"])) == "IdMap(n=2)"


# NumPy string arrays cannot hold a trailing NUL; such ids are rejected (tested above)
_text_id = st.text(max_size=12).filter(lambda s: not s.endswith("\x00"))


@given(st.lists(_text_id, unique=True, max_size=40))
def test_property_ids_to_indices_to_ids_round_trips(ids):
    m = IdMap(ids)
    assert len(m) == len(ids)
    idx = m.indices(ids)
    assert idx.tolist() == list(range(len(ids)))
    assert [m.id(i) for i in idx] == ids
    assert m.ids.tolist() == ids
    assert all(x in m for x in ids)


@given(st.lists(_text_id, unique=True, max_size=20), st.lists(_text_id, max_size=20))
def test_property_extend_appends_only_unseen_ids(first, more):
    m = IdMap(first)
    e = m.extend(more)
    assert e.ids.tolist()[: len(first)] == first
    assert set(e.ids.tolist()) == set(first) | set(more)
    assert len(e) == len(set(first) | set(more))
