"""TF-IDF reduced to dense vectors with truncated SVD (LSA): the light encoder (extra ``tfidf``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tailwise.errors import NotFittedError
from tailwise.text.base import BatchEncoder, check_texts, ensure_installed

_PURPOSE = "The TF-IDF encoder"


class TfidfEncoder(BatchEncoder):
    """TF-IDF over the item texts, projected on its top `dim` singular directions.

    Unlike the pretrained encoders it must be fitted on the item texts first
    (:meth:`fit`); its :attr:`id` then carries a hash of the fitted state, so the embedding
    cache never mixes vectors of two fits. The fitted state is a handful of arrays
    (:meth:`get_state` / :meth:`from_state`), saved without pickle.

    Parameters
    ----------
    dim : int
        Output dimension. When the vocabulary has at most `dim` terms, or the corpus fewer
        documents than `dim`, the SVD keeps what there is and the vectors are padded with zeros.
    min_df, max_df : int or float
        Document-frequency bounds of a term (as in scikit-learn).
    max_features : int, optional
        Keep only the most frequent terms.
    ngram_range : tuple of int
        Word n-gram sizes.
    sublinear_tf : bool
        Use ``1 + log(tf)``.
    random_state : int
        Seed of the randomised SVD.

    Examples
    --------
    .. code-block:: python

        docs = ["space travel film", "astronaut film in space", "chocolate cake recipe"]
        enc = TfidfEncoder(dim=2).fit(docs)
        enc.encode_items(docs).shape                      # (3, 2)
        np.savez("tfidf.npz", **enc.get_state())
        same = TfidfEncoder.from_state(np.load("tfidf.npz", allow_pickle=False))
    """

    def __init__(
        self,
        dim: int = 256,
        min_df: float = 1,
        max_df: float = 1.0,
        max_features: int | None = None,
        ngram_range: tuple[int, int] = (1, 1),
        sublinear_tf: bool = True,
        random_state: int = 0,
    ) -> None:
        ensure_installed("sklearn", _PURPOSE)
        if dim < 1:
            raise ValueError(f"dim must be at least 1, not {dim}")
        self.dim = dim
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.ngram_range = tuple(ngram_range)
        self.sublinear_tf = sublinear_tf
        self.random_state = random_state
        self.vocabulary_: np.ndarray | None = None
        self.idf_: np.ndarray | None = None
        self.components_: np.ndarray | None = None
        self._vectorizer: Any = None
        self._id: str | None = None

    # ------------------------------------------------------------------ parameters and id
    def _params(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "max_features": self.max_features,
            "ngram_range": list(self.ngram_range),
            "sublinear_tf": self.sublinear_tf,
            "random_state": self.random_state,
        }

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_state`) has run."""
        return self.components_ is not None

    @property
    def id(self) -> str:  # type: ignore[override]
        """``"tfidf:<hash>"``, the hash of parameters, vocabulary, idf and SVD components."""
        if self._id is None:
            self._check_fitted()
            h = hashlib.blake2b(digest_size=8)
            h.update(json.dumps(self._params(), sort_keys=True).encode())
            h.update("\n".join(self.vocabulary_.tolist()).encode("utf-8"))
            h.update(np.round(self.idf_.astype(np.float64), 5).tobytes())
            # rounded so that last-bit BLAS noise between runs does not move the id
            h.update(np.round(self.components_.astype(np.float64), 4).tobytes())
            self._id = f"tfidf:{h.hexdigest()}"
        return self._id

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(
                "TfidfEncoder must be fitted on the item texts first: call fit(texts)"
            )

    # ------------------------------------------------------------------ fit
    def _make_vectorizer(self, vocabulary: Mapping[str, int] | None = None) -> Any:
        from tailwise._compat import require

        text = require("sklearn.feature_extraction.text", _PURPOSE)
        return text.TfidfVectorizer(
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            ngram_range=self.ngram_range,
            sublinear_tf=self.sublinear_tf,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    def fit(self, texts: Sequence[str]) -> TfidfEncoder:
        """Learn the vocabulary, idf and SVD projection from the item texts; returns self."""
        from tailwise._compat import require

        texts = [t for t in check_texts(texts) if t.strip()]
        if not texts:
            raise ValueError("TfidfEncoder.fit needs at least one non-empty text")
        vectorizer = self._make_vectorizer()
        x = vectorizer.fit_transform(texts)
        n_docs, n_terms = x.shape
        if n_terms <= self.dim:
            components = np.eye(n_terms, dtype=np.float32)  # no reduction needed: keep tf-idf
        else:
            decomposition = require("sklearn.decomposition", _PURPOSE)
            svd = decomposition.TruncatedSVD(
                n_components=min(self.dim, n_docs),
                algorithm="randomized",
                random_state=self.random_state,
            )
            components = svd.fit(x).components_.astype(np.float32)
        self.vocabulary_ = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float32)
        self.components_ = components
        self._vectorizer = vectorizer
        self._id = None
        return self

    # ------------------------------------------------------------------ encode
    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        self._check_fitted()
        if self._vectorizer is None:
            vocabulary = {term: i for i, term in enumerate(self.vocabulary_.tolist())}
            vectorizer = self._make_vectorizer(vocabulary)
            vectorizer.idf_ = self.idf_
            self._vectorizer = vectorizer
        x = self._vectorizer.transform(texts)
        reduced = np.asarray(x @ self.components_.T, dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, : reduced.shape[1]] = reduced
        return out

    def encode_items(
        self, texts: Sequence[str], batch_size: int = 1024, progress: bool = True
    ) -> np.ndarray:
        """Encode item texts (see :meth:`BatchEncoder.encode_items`); needs :meth:`fit` first."""
        self._check_fitted()
        return super().encode_items(texts, batch_size=batch_size, progress=progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode query texts; needs :meth:`fit` first."""
        self._check_fitted()
        return super().encode_queries(texts)

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted state as plain arrays (``np.savez`` them; load with ``allow_pickle=False``).

        Keys: ``vocabulary`` (str, term per column), ``idf`` (float32), ``components``
        (float32, ``[k, n_terms]``), ``params`` (a 0-d str array holding JSON).
        """
        self._check_fitted()
        return {
            "vocabulary": self.vocabulary_.copy(),
            "idf": self.idf_.copy(),
            "components": self.components_.copy(),
            "params": np.asarray(json.dumps(self._params(), sort_keys=True)),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> TfidfEncoder:
        """A fitted encoder from :meth:`get_state`'s arrays; encodes exactly as the original."""
        missing = {"vocabulary", "idf", "components", "params"} - set(state)
        if missing:
            raise ValueError(f"TF-IDF state lacks {sorted(missing)}")
        params = json.loads(str(np.asarray(state["params"])))
        params["ngram_range"] = tuple(params["ngram_range"])
        enc = cls(**params)
        enc.vocabulary_ = np.asarray(state["vocabulary"], dtype=str)
        enc.idf_ = np.asarray(state["idf"], dtype=np.float32)
        enc.components_ = np.asarray(state["components"], dtype=np.float32)
        n_terms = len(enc.vocabulary_)
        if enc.idf_.shape != (n_terms,) or enc.components_.shape[1:] != (n_terms,):
            raise ValueError("TF-IDF state arrays do not agree on the vocabulary size")
        if enc.components_.shape[0] > enc.dim:
            raise ValueError("TF-IDF state has more SVD components than its dim")
        return enc

    def __repr__(self) -> str:
        return f"TfidfEncoder(dim={self.dim}, fitted={self.fitted})"
