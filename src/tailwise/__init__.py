"""tailwise: recommendations that bring the long tail in, with a pretrained language model.

Importing this package loads no heavy dependency (no torch, implicit or fastapi).
"""

from tailwise.data.dataset import Dataset
from tailwise.data.idmap import IdMap
from tailwise.errors import DataError, MissingExtraError, NotFittedError, TailwiseError

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Dataset",
    "IdMap",
    "MissingExtraError",
    "NotFittedError",
    "TailwiseError",
    "__version__",
]
