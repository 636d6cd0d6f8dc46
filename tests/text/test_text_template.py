"""Item text templates: field order, missing values, labels and the word budget."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tailwise.text import ItemTemplate, truncate_words

FIELDS = ("title", "genres", "director", "actors", "plot")
MOVIE = {
    "title": "Toy Story (1995)",
    "genres": "Animation, Children's, Comedy",
    "director": "John Lasseter",
    "actors": "N/A",
    "plot": "A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him.",
}


def test_fields_joined_in_order_skipping_missing():
    text = ItemTemplate(fields=FIELDS).render(MOVIE)
    assert text == (
        "Toy Story (1995). Animation, Children's, Comedy. John Lasseter. "
        "A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants him."
    )


def test_missing_values_none_nan_and_absent_columns_are_skipped():
    t = ItemTemplate(fields=("title", "genres", "plot", "year"))
    assert t.render({"title": "  Heat  ", "genres": None, "plot": math.nan}) == "Heat"
    assert t.render({"title": "", "genres": "N/A"}) == ""


def test_whitespace_collapsed_and_no_double_full_stop():
    t = ItemTemplate(fields=("title", "plot", "genres"))
    assert t.render({"title": "Heat\n(1995)", "plot": "Cops.  Robbers!", "genres": "Crime"}) == (
        "Heat (1995). Cops. Robbers! Crime"
    )


def test_labels():
    t = ItemTemplate(fields=("title", "main_actor"), labels=True)
    assert (
        t.render({"title": "Heat", "main_actor": "Al Pacino"})
        == "Title: Heat. Main actor: Al Pacino"
    )


def test_budget_cuts_the_last_fields_first_and_keeps_the_title():
    t = ItemTemplate(fields=FIELDS, max_tokens=12)
    text = t.render(MOVIE)
    assert len(text.split()) == 12
    assert text.startswith("Toy Story (1995). Animation, Children's, Comedy. John Lasseter. ")
    assert text.endswith("A cowboy doll is")
    assert ItemTemplate(fields=FIELDS, max_tokens=3).render(MOVIE) == "Toy Story (1995)"


def test_budget_counts_labels_and_drops_a_field_whose_label_alone_fits():
    t = ItemTemplate(fields=("title", "plot"), labels=True, max_tokens=3)
    assert t.render({"title": "Heat", "plot": "Cops and robbers"}) == "Title: Heat"
    t = ItemTemplate(fields=("title", "plot"), labels=True, max_tokens=4)
    assert t.render({"title": "Heat", "plot": "Cops and robbers"}) == "Title: Heat. Plot: Cops"


def test_zero_budget_and_bad_arguments():
    assert ItemTemplate(fields=FIELDS, max_tokens=0).render(MOVIE) == ""
    with pytest.raises(ValueError, match="max_tokens"):
        ItemTemplate(fields=FIELDS, max_tokens=-1)
    with pytest.raises(ValueError, match="fields"):
        ItemTemplate(fields="title")  # type: ignore[arg-type]


def test_render_columns_and_many():
    t = ItemTemplate(fields=("title", "genres"))
    cols = {"title": ["A", "B"], "genres": ["x", "N/A"], "other": ["1", "2"]}
    assert t.render_columns(cols) == ["A. x", "B"]
    assert t.render_many([{"title": "A"}, {"genres": "y"}]) == ["A", "y"]
    with pytest.raises(ValueError, match="different lengths"):
        t.render_columns({"title": ["A"], "genres": ["x", "y"]})
    with pytest.raises(ValueError, match="none of the template fields"):
        t.render_columns({"name": ["A"]})


def test_truncate_words():
    assert truncate_words("a  b c", 5) == "a  b c"  # within budget: unchanged
    assert truncate_words("a  b\nc d", 3) == "a b c"
    assert truncate_words("a b", None) == "a b"
    assert truncate_words("a b", 0) == ""
    with pytest.raises(ValueError):
        truncate_words("a", -2)


def test_truncate_words_on_joined_dataset_text_keeps_the_title():
    from tailwise.data.bundled import load_demo

    ds = load_demo()
    texts = ds.texts()[:200]
    for full in texts:
        cut = truncate_words(full, 8)
        assert len(cut.split()) <= 8
        assert " ".join(full.split()).startswith(cut)


words = st.text(alphabet="abcxyz.!", min_size=1, max_size=6)
values = st.lists(words, max_size=8).map(" ".join)


@given(record=st.fixed_dictionaries({f: values for f in FIELDS}), budget=st.integers(0, 30))
def test_budget_property(record, budget):
    full = ItemTemplate(fields=FIELDS).render(record)
    cut = ItemTemplate(fields=FIELDS, max_tokens=budget).render(record)
    assert len(cut.split()) <= budget
    assert full.startswith(cut)
    if len(full.split()) <= budget:
        assert cut == full
