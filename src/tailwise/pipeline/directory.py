"""Reading a model directory back, checked: a damaged one is a DataError naming the file.

The layout is :mod:`tailwise.artifacts`'. What is checked before anything is used:

- ``manifest.json``: a JSON object of a supported format, with the model's ``name`` in
  ``model`` and its parameters in ``params``, each within its rule
  (:mod:`tailwise.models.params`; the error names the field, e.g. ``params.l2``);
- every ``.npz`` file present, readable and holding the arrays it should;
- ``ids.npz``: unique user and item ids;
- ``history.npz``: a valid CSR matrix of one row per user id and one column per item id,
  finite values;
- ``model.npz``: the model's arrays present, finite and consistent with each other and with
  the numbers of users and items (:meth:`Recommender.check_state`);
- ``items.json``: a list of one text per item id.

``lexical.npz`` (the BM25 index of the item texts, :meth:`BM25.state
<tailwise.text.lexical.BM25.state>`) is read only at the first text query
(:func:`read_lexical`); a directory without one, or with one that does not fit, gets the index
built from ``items.json`` then. ``querymap.npz`` (the query-side map of the dense side,
:mod:`tailwise.text.querymap`, and the encoder it was fitted for) likewise: read at the first
text query (:func:`read_query_map`); without one that fits the encoder, the map is fitted then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tailwise import artifacts
from tailwise.data.idmap import IdMap
from tailwise.errors import DataError, ParameterError
from tailwise.models import MODELS, Recommender, make_model
from tailwise.models.state import StateCheck
from tailwise.text.index import TextIndex
from tailwise.text.lexical import BM25, texts_digest

log = logging.getLogger(__name__)

#: the file of the BM25 index in a model directory
LEXICAL = "lexical.npz"
#: the file of the text queries' query map in a model directory
QUERY_MAP = "querymap.npz"


@dataclass(frozen=True)
class ModelDir:
    """What a model directory holds, checked."""

    model: Recommender
    users: IdMap
    items: IdMap
    history: sp.csr_matrix
    item_text: list[str]
    meta: dict


def read_model_dir(directory: str | Path) -> ModelDir:
    """Read and check a model directory written by :meth:`Pipeline.save
    <tailwise.pipeline.Pipeline.save>`; see the module docstring for the checks.

    Raises
    ------
    DataError
        Naming the file (and the field, where there is one) and what is wrong.
    """
    directory = Path(directory)
    manifest = artifacts.read_manifest(directory)
    model = _model(manifest, directory / "manifest.json")
    users, items = _ids(directory / "ids.npz")
    history = _history(directory / "history.npz", len(users), len(items))
    _restore(model, directory / "model.npz", len(users), len(items))
    text = _texts(directory / "items.json", len(items))
    meta = {k: v for k, v in manifest.items() if k not in ("model", "params")}
    return ModelDir(model, users, items, history, text, meta)


def _model(manifest: dict, path: Path) -> Recommender:
    name = manifest.get("model")
    if name is None:
        raise DataError("the manifest has no 'model' field (the model's name)", path=path, field="model")
    if not isinstance(name, str) or name not in MODELS:
        raise DataError(f"unknown model {name!r} in manifest; known models: {', '.join(MODELS)}", path=path, field="model")
    params = manifest.get("params")
    if not isinstance(params, dict):
        found = "no 'params' field" if params is None else f"'params' is a {type(params).__name__}"
        raise DataError(f"the manifest needs the model's parameters as a JSON object; {found}", path=path, field="params")
    try:
        return make_model(name, **params)
    except ParameterError as exc:
        raise DataError(str(exc), path=path, field=f"params.{exc.param}") from None


def _arrays(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    arrays = artifacts.read_arrays(path)
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataError(f"the array {missing[0]!r} is missing (the file holds: {', '.join(arrays) or 'nothing'})", path=path)
    return arrays


def _ids(path: Path) -> tuple[IdMap, IdMap]:
    ids = _arrays(path, ("users", "items"))
    maps = []
    for key in ("users", "items"):
        arr = ids[key]
        if arr.ndim != 1 or arr.dtype.kind != "U":
            raise DataError(f"{key!r} must be a list of string ids, not a {arr.dtype} array of shape {arr.shape}", path=path)
        try:
            maps.append(IdMap(arr))
        except ValueError as exc:
            raise DataError(f"{key!r}: {exc}", path=path) from None
    return maps[0], maps[1]


def _history(path: Path, n_users: int, n_items: int) -> sp.csr_matrix:
    h = _arrays(path, ("indptr", "indices", "data", "shape"))
    if h["shape"].tolist() != [n_users, n_items]:
        raise DataError(
            f"the history has shape {tuple(h['shape'].tolist())}, but ids.npz has {n_users} users and {n_items} items",
            path=path,
        )
    check = StateCheck(h, n_items, n_users)
    check.csr("data", "indices", "indptr", "users", n_items)
    check.finite()
    if check.problems:
        raise DataError(f"the history is damaged: {check.problems[0]}", path=path)
    return sp.csr_matrix((h["data"], h["indices"], h["indptr"]), shape=(n_users, n_items))


def _restore(model: Recommender, path: Path, n_users: int, n_items: int) -> None:
    state = artifacts.read_arrays(path)
    try:
        model.set_state(state)
    except (ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot restore the {model.name} model: {exc}", path=path) from None
    problems = model.check_state()
    for key, n, what in (("n_items_", n_items, "items"), ("n_users_", n_users, "users")):
        if not problems and getattr(model, key) != n:
            problems.append(f"the model has {getattr(model, key)} {what}, but ids.npz has {n}")
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise DataError(f"the {model.name} model's arrays are damaged: {problems[0]}{more}", path=path)


def _texts(path: Path, n_items: int) -> list[str]:
    text = artifacts.read_json(path)
    if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
        raise DataError("must be a JSON list of item texts (strings)", path=path)
    if len(text) != n_items:
        raise DataError(f"lists {len(text)} item texts, but ids.npz has {n_items} items", path=path)
    return text


def lexical_state(text: TextIndex | None, source: Path | None, texts: list[str]) -> dict[str, np.ndarray]:
    """What :func:`read_lexical` reads for `texts`: the arrays of the text index's BM25 index,
    else of the one saved in the directory `source` the pipeline was loaded from, else of one
    built now; and a digest of the texts."""
    index = text.lexical if text is not None else read_lexical(source, texts) if source is not None else None
    return {**(index or BM25(texts)).state(), "texts_digest": np.asarray(texts_digest(texts))}


def read_lexical(directory: str | Path, texts: list[str]) -> BM25 | None:
    """The BM25 index saved in a model directory for `texts`, or None (logged) when there is
    none or it cannot serve: unreadable, damaged, built from other texts (the directory was
    replaced since), or tokenised another way than here (jieba installed or removed since the
    save). The caller then builds it from the texts. Texts that only add items after the saved
    ones (items added since the load) are served by the saved index grown by the new items."""
    path = Path(directory) / LEXICAL
    if not path.exists():
        return None
    try:
        state = artifacts.read_arrays(path)
        n = int(state["shape"][0]) if "shape" in state else -1
        if not 0 <= n <= len(texts) or str(state.get("texts_digest", "")) != texts_digest(texts[:n]):
            raise ValueError("it indexes other item texts than items.json holds")
        index = BM25.from_state(state)
        return index if n == len(texts) else index.grown(texts, np.empty(0, np.int64))
    except (DataError, ValueError, OSError) as exc:
        log.warning("%s: not used, the BM25 index is built from the item texts instead: %s", path, exc)
        return None


def query_map_state(weights: np.ndarray | None, encoder: str) -> dict[str, np.ndarray]:
    """What :func:`read_query_map` reads: the map's weights (empty: the catalogue has no map)
    and the encoder they were fitted for."""
    return {"weights": np.empty(0, np.float32) if weights is None else np.asarray(weights, np.float32), "encoder": np.asarray(encoder)}


def read_query_map(directory: str | Path, encoder: str, dim: int) -> tuple[bool, np.ndarray | None]:
    """(found, weights) of the query map saved in a model directory for `encoder` and embeddings
    of `dim` dimensions; weights None with found True: the catalogue has no map. Not found
    (logged when the file is there but cannot serve: unreadable, or fitted for another encoder):
    the caller fits it."""
    path = Path(directory) / QUERY_MAP
    if not path.exists():
        return False, None
    try:
        state = artifacts.read_arrays(path)
        weights = np.asarray(state["weights"], dtype=np.float32)
        if str(state["encoder"]) != encoder or len(weights) not in (0, dim) or not np.isfinite(weights).all():
            raise ValueError(f"it was fitted for another encoder than {encoder!r} (or is damaged)")
        return True, weights if len(weights) else None
    except (DataError, ValueError, KeyError, OSError) as exc:
        log.warning("%s: not used, the query map is fitted again: %s", path, exc)
        return False, None
