"""MovieLens loaders: ml-latest-small (CSV) and ml-1m (``::`` files, Latin-1, extra plot file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tailwise.data.dataset import Dataset
from tailwise.data.loaders import Columns, build_dataset, parse_interactions
from tailwise.data.tables import Table, read_table
from tailwise.errors import DataError

#: text columns each MovieLens flavour can offer, in the order they are joined
ML_LATEST_TEXT = ("title", "genres", "tags")
ML_1M_TEXT = ("title", "genres", "director", "actors", "plot")
ML_1M_EXTRA_FIELDS = [
    "movie_id", "title_omdb", "year", "rate", "released", "genre",
    "director", "writer", "actors", "plot", "poster",
]  # fmt: skip


def load_movielens(path: str | Path, text_cols: tuple[str, ...] | None = None) -> Dataset:
    """Load a MovieLens folder, telling ml-latest-small from ml-1m by its files.

    Parameters
    ----------
    path : folder
        ml-latest-small (``ratings.csv``, ``movies.csv``, optional ``tags.csv``) or ml-1m
        (``ratings.dat`` or ``ratings_no_timestamp.csv.gz``, ``movies.dat``, optional
        ``movies_extrainfos.dat``).
    text_cols : tuple of str, optional
        Which fields make the item text. ml-latest-small: title, genres, tags. ml-1m: title,
        genres, plus from the extra-info file director, writer, actors, plot, rate, year.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError("MovieLens path must be a folder", path=root)
    if (root / "ratings.csv").exists():
        return _load_latest(root, text_cols or ML_LATEST_TEXT)
    if (root / "movies.dat").exists():
        return _load_1m(root, text_cols or ML_1M_TEXT)
    raise DataError(
        "not a MovieLens folder: expected ratings.csv + movies.csv (ml-latest-small) "
        "or movies.dat + ratings.dat (ml-1m)",
        path=root,
    )


def _genres(s: str) -> str:
    return "" if s == "(no genres listed)" else s.replace("|", ", ")


def _join(fields: dict[str, np.ndarray], cols: tuple[str, ...], row: int) -> str:
    out = []
    for c in cols:
        v = fields[c][row].strip() if c in fields else ""
        if v and v != "N/A":
            out.append(v)
    return ". ".join(out)


def _load_latest(root: Path, cols: tuple[str, ...]) -> Dataset:
    ratings = read_table(root / "ratings.csv")
    inter = parse_interactions(ratings, Columns("userId", "movieId", "rating", "timestamp"))
    movies = read_table(root / "movies.csv")
    ids = movies.column("movieId", "item id")
    fields = {"title": movies.column("title", "text"), "genres": movies.column("genres", "text")}
    fields["genres"] = np.asarray([_genres(g) for g in fields["genres"]], dtype=object)
    tag_path = root / "tags.csv"
    if "tags" in cols and tag_path.exists():
        fields["tags"] = _tags_by_movie(read_table(tag_path), ids)
    text = {i: _join(fields, cols, r) for r, i in enumerate(ids.tolist())}
    return build_dataset(inter, text, name=root.name)


def _tags_by_movie(tags: Table, ids: np.ndarray) -> np.ndarray:
    by_movie: dict[str, dict[str, None]] = {}
    for m, t in zip(tags.column("movieId", "item id"), tags.column("tag", "tag")):
        by_movie.setdefault(m, {})[t.strip().lower()] = None
    return np.asarray([", ".join(by_movie.get(i, {})) for i in ids.tolist()], dtype=object)


def _load_1m(root: Path, cols: tuple[str, ...]) -> Dataset:
    if (root / "ratings.dat").exists():
        ratings = read_table(
            root / "ratings.dat", fmt="csv", sep="::", encoding="latin-1", header=False,
            names=["user_id", "item_id", "rating", "timestamp"],
        )  # fmt: skip
        inter = parse_interactions(ratings)
    elif (root / "ratings_no_timestamp.csv.gz").exists():
        ratings = read_table(root / "ratings_no_timestamp.csv.gz")
        inter = parse_interactions(ratings, Columns("userId", "movieId", "rating", None))
    else:
        raise DataError("ml-1m folder has neither ratings.dat nor ratings_no_timestamp.csv.gz", root)
    movies = read_table(
        root / "movies.dat", fmt="csv", sep="::", encoding="latin-1", header=False,
        names=["item_id", "title", "genres"],
    )  # fmt: skip
    ids = movies.column("item_id", "item id")
    fields = {"title": movies.column("title", "text")}
    fields["genres"] = np.asarray([_genres(g) for g in movies.column("genres", "text")], object)
    extra_path = root / "movies_extrainfos.dat"
    if extra_path.exists() and set(cols) - {"title", "genres"}:
        extra = read_table(
            extra_path, fmt="csv", sep="::", encoding="utf-8", header=False,
            names=ML_1M_EXTRA_FIELDS,
        )  # fmt: skip
        pos = {m: r for r, m in enumerate(extra.column("movie_id", "item id").tolist())}
        for c in set(cols) - {"title", "genres"}:
            src = extra.column(c, "text")
            fields[c] = np.asarray([src[pos[i]] if i in pos else "" for i in ids.tolist()], object)
    text = {i: _join(fields, cols, r) for r, i in enumerate(ids.tolist())}
    return build_dataset(inter, text, name=root.name)
