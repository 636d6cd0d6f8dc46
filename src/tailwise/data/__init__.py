"""Data layer: Dataset and IdMap, loaders for generic files, MovieLens and Amazon, and splits."""

from tailwise.data.amazon import load_amazon
from tailwise.data.bundled import demo_path, load_demo
from tailwise.data.dataset import Dataset
from tailwise.data.idmap import IdMap
from tailwise.data.loaders import Columns, load_dataset
from tailwise.data.movielens import load_movielens

__all__ = [
    "Columns",
    "Dataset",
    "IdMap",
    "demo_path",
    "load_amazon",
    "load_dataset",
    "load_demo",
    "load_movielens",
]
