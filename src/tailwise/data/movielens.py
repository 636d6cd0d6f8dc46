"""MovieLens loaders: a folder or a name downloaded on first use (ml-100k, ml-1m, ml-latest-small,
ml-20m, ml-25m, ml-32m), with richer item text (plots, people) joined from a local file."""

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


def load_movielens(
    path: str | Path,
    text_cols: tuple[str, ...] | None = None,
    extra_text: str | Path | None = None,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> Dataset:
    """Load a MovieLens folder, or a MovieLens data set by name (downloaded and cached).

    Parameters
    ----------
    path : str or Path
        A folder: ml-latest-small/20m/25m/32m (``ratings.csv``, ``movies.csv``, optional
        ``tags.csv``), ml-1m (``ratings.dat`` or ``ratings_no_timestamp.csv.gz``, ``movies.dat``,
        optional ``movies_extrainfos.dat``) or ml-100k (``u.data``, ``u.item``). Or a name, one
        of ``ml-100k``, ``ml-1m``, ``ml-latest-small``, ``ml-20m``, ``ml-25m``, ``ml-32m``: the
        official GroupLens archive, downloaded into the cache on first use (``cache_dir``, else
        ``$TAILWISE_DATA``, else ``~/.cache/tailwise/data``) and checked against its MD5.
    text_cols : tuple of str, optional
        Which fields make the item text. ml-latest-small: title, genres, tags. ml-1m: title,
        genres, plus from the extra-info file director, writer, actors, plot, rate, year.
        Columns of `extra_text` may be named too (default: all of them).
    extra_text : str or Path, optional
        A local file of richer item text (plots, people) joined in by movie id: a CSV/TSV/JSONL
        table with a ``movieId`` or ``item_id`` column, or an ml-1m ``movies_extrainfos.dat``.
    base_url : str, optional
        Where archives are downloaded from (default ``$TAILWISE_MOVIELENS_URL``, else GroupLens).
    progress : bool
        Show a download progress bar (default True).
    """
    from tailwise.data.remote import MOVIELENS, movielens_folder

    root = Path(path)
    if not root.is_dir() and str(path) in MOVIELENS:
        root = movielens_folder(str(path), cache_dir, base_url, progress)
    if not root.is_dir():
        raise DataError(
            f"MovieLens path must be a folder or one of the names {', '.join(MOVIELENS)}", path=root
        )
    extra = None if extra_text is None else _extra_fields(Path(extra_text))
    if (root / "ratings.csv").exists():
        return _load_latest(root, text_cols or _cols(ML_LATEST_TEXT, extra), extra)
    if (root / "movies.dat").exists():
        return _load_1m(root, text_cols or _cols(ML_1M_TEXT, extra), extra)
    if (root / "u.data").exists():
        return _load_100k(root, text_cols or _cols(("title", "genres"), extra), extra)
    raise DataError(
        "not a MovieLens folder: expected ratings.csv + movies.csv (ml-latest-small, 20m, 25m, "
        "32m), movies.dat + ratings.dat (ml-1m) or u.data + u.item (ml-100k)",
        path=root,
    )


def _extra_fields(path: Path) -> dict[str, dict[str, str]]:
    """Column -> {movie id -> text} from a local file of richer item text."""
    if path.name.endswith(".dat"):
        table = read_table(path, fmt="csv", sep="::", header=False, names=ML_1M_EXTRA_FIELDS)
        id_col = "movie_id"
    else:
        table = read_table(path)
        id_col = next((c for c in ("movieId", "item_id", "movie_id") if c in table.frame.columns), "movieId")
    ids = table.column(id_col, "item id")
    keep = ("director", "actors", "plot") if id_col == "movie_id" else table.frame.columns
    return {c: dict(zip(ids.tolist(), table.column(c, "text").tolist())) for c in keep if c != id_col}


def _cols(base: tuple[str, ...], extra: dict | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*base, *(extra or ()))))


def _add_extra(fields: dict[str, np.ndarray], extra: dict | None, ids: np.ndarray, cols: tuple[str, ...]) -> None:
    for c in cols:
        if extra and c in extra and c not in ("title", "genres"):
            fields[c] = np.asarray([extra[c].get(i, "") for i in ids.tolist()], dtype=object)


def _genres(s: str) -> str:
    return "" if s == "(no genres listed)" else s.replace("|", ", ")


def _join(fields: dict[str, np.ndarray], cols: tuple[str, ...], row: int) -> str:
    out = []
    for c in cols:
        v = fields[c][row].strip() if c in fields else ""
        if v and v != "N/A":
            out.append(v)
    return ". ".join(out)


def _load_latest(root: Path, cols: tuple[str, ...], extra: dict | None = None) -> Dataset:
    ratings = read_table(root / "ratings.csv")
    inter = parse_interactions(ratings, Columns("userId", "movieId", "rating", "timestamp"))
    movies = read_table(root / "movies.csv")
    ids = movies.column("movieId", "item id")
    fields = {"title": movies.column("title", "text"), "genres": movies.column("genres", "text")}
    fields["genres"] = np.asarray([_genres(g) for g in fields["genres"]], dtype=object)
    tag_path = root / "tags.csv"
    if "tags" in cols and tag_path.exists():
        fields["tags"] = _tags_by_movie(read_table(tag_path), ids)
    _add_extra(fields, extra, ids, cols)
    text = {i: _join(fields, cols, r) for r, i in enumerate(ids.tolist())}
    return build_dataset(inter, text, name=root.name)


def _tags_by_movie(tags: Table, ids: np.ndarray) -> np.ndarray:
    by_movie: dict[str, dict[str, None]] = {}
    for m, t in zip(tags.column("movieId", "item id"), tags.column("tag", "tag")):
        by_movie.setdefault(m, {})[t.strip().lower()] = None
    return np.asarray([", ".join(by_movie.get(i, {})) for i in ids.tolist()], dtype=object)


def _load_1m(root: Path, cols: tuple[str, ...], extra: dict | None = None) -> Dataset:
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
    if extra is None and extra_path.exists() and set(cols) - {"title", "genres"}:
        info = read_table(
            extra_path, fmt="csv", sep="::", encoding="utf-8", header=False,
            names=ML_1M_EXTRA_FIELDS,
        )  # fmt: skip
        pos = {m: r for r, m in enumerate(info.column("movie_id", "item id").tolist())}
        for c in set(cols) - {"title", "genres"}:
            src = info.column(c, "text")
            fields[c] = np.asarray([src[pos[i]] if i in pos else "" for i in ids.tolist()], object)
    _add_extra(fields, extra, ids, cols)
    text = {i: _join(fields, cols, r) for r, i in enumerate(ids.tolist())}
    return build_dataset(inter, text, name=root.name)


#: the genre flags of ml-100k's ``u.item``, in file order
ML_100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip


def _load_100k(root: Path, cols: tuple[str, ...], extra: dict | None = None) -> Dataset:
    ratings = read_table(
        root / "u.data", fmt="tsv", header=False, names=["user_id", "item_id", "rating", "timestamp"]
    )
    inter = parse_interactions(ratings)
    names = ["item_id", "title", "released", "video", "imdb", *ML_100K_GENRES]
    movies = read_table(root / "u.item", fmt="csv", sep="|", encoding="latin-1", header=False, names=names)
    ids = movies.column("item_id", "item id")
    flags = np.stack([movies.column(g, "genre flag") == "1" for g in ML_100K_GENRES[1:]], axis=1)
    fields = {
        "title": movies.column("title", "text"),
        "genres": np.asarray([", ".join(g for g, on in zip(ML_100K_GENRES[1:], row) if on) for row in flags], object),
    }
    _add_extra(fields, extra, ids, cols)
    text = {i: _join(fields, cols, r) for r, i in enumerate(ids.tolist())}
    return build_dataset(inter, text, name=root.name)
