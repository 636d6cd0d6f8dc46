"""The demo dataset shipped inside the package: MovieLens ml-latest-small (GroupLens licence)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from tailwise.data.dataset import Dataset
from tailwise.data.movielens import load_movielens


def demo_path() -> Path:
    """Folder of the bundled ml-latest-small (ratings, movies, tags and its licence text)."""
    return Path(str(files("tailwise") / "datasets" / "ml-latest-small"))


def load_demo() -> Dataset:
    """The bundled ml-latest-small: 610 users, 9,742 movies, 100,836 ratings.

    Redistributed under the GroupLens terms in ``README.grouplens.txt`` beside the data:
    research use, no commercial use without permission, cite Harper & Konstan (2015).
    """
    return load_movielens(demo_path())
