"""Optional fine-tuning of a sentence-transformers encoder on co-interaction pairs (extra ``torch``).

Two items consumed by the same user make a positive pair; the other items in a batch are the
negatives (``MultipleNegativesRankingLoss``, i.e. InfoNCE with in-batch negatives). The tuned
encoder places items that people consume together closer, which a text model (content, adapter,
hybrid, twotower) then carries over to tail and cold items that share their wording.

Fine-tuning is off by default: it is a separate step (``tailwise finetune``) that writes a
sentence-transformers model directory. Use it afterwards as the encoder spec ``st:<directory>``.

Examples
--------
.. code-block:: python

    from tailwise.text import make_encoder
    from tailwise.text.finetune import finetune_encoder

    path = finetune_encoder(dataset, base="minilm", output_dir="minilm-tuned", epochs=1)
    encoder = make_encoder(f"st:{path}")
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tailwise._compat import require
from tailwise.artifacts import swap_dir, versions
from tailwise.data.dataset import Dataset
from tailwise.errors import DataError
from tailwise.text.backends.sbert import MINILM, resolve_model
from tailwise.text.base import ensure_installed, progress_bar
from tailwise.text.template import truncate_words

logger = logging.getLogger(__name__)

_PURPOSE = "Fine-tuning the encoder"

#: the file this module adds to the model directory it writes (base model, settings, versions)
MANIFEST = "tailwise-finetune.json"

#: files that mark a folder as a sentence-transformers model (safe to replace)
_MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", MANIFEST)


def item_has_text(dataset: Dataset) -> np.ndarray:
    """Boolean mask over items: true where the item text is not empty or whitespace."""
    return np.fromiter(
        (bool(t.strip()) for t in dataset.texts()), dtype=bool, count=dataset.n_items
    )


def co_interaction_pairs(
    dataset: Dataset, max_pairs: int = 20000, seed: int = 42
) -> list[tuple[int, int]]:
    """Distinct pairs of items (internal indices) that one user consumed both of.

    Each draw picks a user uniformly among those with at least two items that have text, then
    two different items of theirs uniformly; each unordered pair is kept once, in the order it
    was first drawn (the first drawn item is the anchor). So every user counts the same however
    many items they have (sampling all co-occurrences alike would let the items of a few heavy
    users fill the batches), and a pair shared by many users counts once: a popular item weighs
    by its number of distinct partners, not by how many users it shares with each. When the
    users hold no more than `max_pairs` distinct pairs in all, every pair is returned, in a
    seeded random order and orientation.

    Parameters
    ----------
    dataset : Dataset
        Interactions plus item text. Items without text are left out (as if not consumed).
    max_pairs : int
        Most pairs to return.
    seed : int
        Seed of the sampling; the same seed gives the same pairs in the same order.

    Returns
    -------
    list of (int, int)
        ``(anchor_item, positive_item)`` index pairs, two different items.

    Raises
    ------
    DataError
        When no item has text.

    Examples
    --------
    >>> ds = Dataset.from_ids(["u", "u", "v", "v"], ["a", "b", "c", "d"],
    ...                       item_text={"a": "x", "b": "y", "c": "z", "d": ""})
    >>> sorted(tuple(sorted(p)) for p in co_interaction_pairs(ds))
    [(0, 1)]
    """
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be at least 1, not {max_pairs}")
    has_text = item_has_text(dataset)
    if not has_text.any():
        raise DataError(
            f"dataset {dataset.name!r} has no item text: fine-tuning the encoder learns from "
            "the texts of items consumed together"
        )
    m = dataset.matrix().tocsc()[:, has_text].tocsr()  # binary user x text-item matrix
    m.sort_indices()
    text_items = np.flatnonzero(has_text)
    counts = np.diff(m.indptr)
    users = np.flatnonzero(counts >= 2)
    if len(users) == 0:
        return []
    n_u = counts[users]
    if int((n_u * (n_u - 1) // 2).sum()) <= max_pairs:
        pairs = _all_pairs(m, users, text_items)
        rng = np.random.default_rng(seed)
        order, flip = rng.permutation(len(pairs)), rng.random(len(pairs)) < 0.5
        return [pairs[k][::-1] if flip[k] else pairs[k] for k in order]
    return _sample_pairs(m, users, text_items, max_pairs, seed)


def _all_pairs(m: Any, users: np.ndarray, text_items: np.ndarray) -> list[tuple[int, int]]:
    """Every distinct unordered pair, small to large index, sorted."""
    seen: set[tuple[int, int]] = set()
    for u in users:
        items = text_items[m.indices[m.indptr[u] : m.indptr[u + 1]]].tolist()
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                seen.add((items[a], items[b]))
    return sorted(seen)


def _sample_pairs(
    m: Any, users: np.ndarray, text_items: np.ndarray, max_pairs: int, seed: int
) -> list[tuple[int, int]]:
    """Draw (user, item, other item) in vectorised rounds until `max_pairs` distinct pairs."""
    rng = np.random.default_rng(seed)
    starts, n_u = m.indptr[users], np.diff(m.indptr)[users]
    out: dict[tuple[int, int], tuple[int, int]] = {}
    stale = 0
    while len(out) < max_pairs and stale < 5:
        size = 2 * (max_pairs - len(out)) + 64
        pick = rng.integers(len(users), size=size)
        n = n_u[pick]
        i = (rng.random(size) * n).astype(np.int64)
        j = (rng.random(size) * (n - 1)).astype(np.int64)
        j += j >= i  # a different item of the same user
        a = text_items[m.indices[starts[pick] + i]].tolist()
        b = text_items[m.indices[starts[pick] + j]].tolist()
        before = len(out)
        for x, y in zip(a, b):
            key = (x, y) if x < y else (y, x)
            if key not in out:
                out[key] = (x, y)
                if len(out) == max_pairs:
                    break
        stale = stale + 1 if len(out) - before < size // 100 else 0
    return list(out.values())


def batches_without_repeats(
    pairs: Sequence[tuple[int, int]], batch_size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Shuffled batches of pair positions in which no item appears twice.

    With in-batch negatives a repeated item would be its own negative (or a positive and a
    negative at once). Pairs that clash with a batch wait for a later one; batches of a single
    pair (no negative to learn from) are dropped.
    """
    remaining = rng.permutation(len(pairs)).tolist()
    out: list[list[int]] = []
    while remaining:
        batch: list[int] = []
        seen: set[int] = set()
        rest: list[int] = []
        for pos, k in enumerate(remaining):
            a, b = pairs[k]
            if a in seen or b in seen:
                rest.append(k)
                continue
            batch.append(k)
            seen.update((a, b))
            if len(batch) == batch_size:
                rest.extend(remaining[pos + 1 :])
                break
        if len(batch) > 1:
            out.append(batch)
        remaining = rest
    return out


def finetune_encoder(
    dataset: Dataset,
    base: str = "minilm",
    *,
    output_dir: str | Path,
    epochs: int = 1,
    batch_size: int = 32,
    max_pairs: int = 20000,
    lr: float = 2e-5,
    max_tokens: int | None = 128,
    seed: int = 42,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Fine-tune a sentence-transformers model on co-interaction pairs and save it.

    Parameters
    ----------
    dataset : Dataset
        Interactions plus item text (see :func:`co_interaction_pairs`).
    base : str
        The model to start from: ``"minilm"`` (the packaged all-MiniLM-L6-v2, offline), an
        encoder spec ``"st:<name-or-path>"``, a local model folder or a hub name.
    output_dir : str or Path
        Where the tuned model directory goes. It is written beside it first and moved into
        place when complete; an existing model directory there is replaced, any other
        non-empty folder is refused.
    epochs : int
        Passes over the pairs.
    batch_size : int
        Pairs per step; the other pairs of a batch are each anchor's negatives, so larger
        batches give a harder task. A batch never holds the same item twice, so on a small
        catalogue batches can be smaller than this.
    max_pairs : int
        Most pairs drawn from the interactions.
    lr : float
        Peak learning rate of AdamW (linear warm-up over the first 10% of steps, then linear
        decay to zero).
    max_tokens : int or None
        Word budget per item text, as the text models apply it
        (:func:`~tailwise.text.template.truncate_words`).
    seed : int
        Seeds pair sampling, batch order and torch (dropout).
    device : str, optional
        ``"cuda"``, ``"cpu"``, ...; by default CUDA when available.
    progress : bool
        Show a progress bar of the training steps on stderr.

    Returns
    -------
    Path
        `output_dir`, a sentence-transformers model directory (plus ``tailwise-finetune.json``)
        that loads as the encoder spec ``f"st:{output_dir}"``.

    Raises
    ------
    DataError
        When the dataset has no item text, or too few co-interactions to form two pairs.
    MissingExtraError
        When torch or sentence-transformers is not installed (extra ``torch``).
    """
    ensure_installed("torch", _PURPOSE)
    ensure_installed("sentence_transformers", _PURPOSE)
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"need epochs >= 1 and batch_size >= 2, not {epochs} and {batch_size}")
    target = Path(output_dir).expanduser()
    _check_target(target)
    pairs = co_interaction_pairs(dataset, max_pairs=max_pairs, seed=seed)
    if len(pairs) < 2:
        raise DataError(
            f"dataset {dataset.name!r} has {len(pairs)} co-interaction pair(s) among items with "
            "text; fine-tuning needs users who consumed at least two such items"
        )
    texts = [truncate_words(t, max_tokens) for t in dataset.texts()]

    torch = require("torch", _PURPOSE)
    st = require("sentence_transformers", _PURPOSE)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    name = base_model_name(base)
    source = resolve_model(name)
    logger.info("fine-tuning %s on %s with %d pairs", source, device, len(pairs))
    model = st.SentenceTransformer(source, device=device)
    started = time.perf_counter()
    dev, gpus = torch.device(device), []
    if dev.type == "cuda":
        gpus = [torch.cuda.current_device() if dev.index is None else dev.index]
    with torch.random.fork_rng(devices=gpus):  # seeds dropout, leaves the caller's RNG alone
        torch.manual_seed(seed)
        losses = _train(model, torch, pairs, texts, epochs, batch_size, lr, seed, device, progress)
    manifest = {
        "base": name,
        "objective": "MultipleNegativesRankingLoss on co-interaction pairs",
        "pairs": len(pairs),
        "epochs": epochs,
        "batch_size": batch_size,
        "max_pairs": max_pairs,
        "lr": lr,
        "max_tokens": max_tokens,
        "seed": seed,
        "device": device,
        "mean_loss_per_epoch": losses,
        "train_seconds": round(time.perf_counter() - started, 3),
        "dataset": {"name": dataset.name, "users": dataset.n_users, "items": dataset.n_items},
        "versions": {
            **versions(),
            "torch": torch.__version__,
            "sentence_transformers": st.__version__,
        },
    }
    _save(model, target, manifest)
    return target


def base_model_name(base: str) -> str:
    """The sentence-transformers name or path behind a `base` spec.

    Examples
    --------
    >>> base_model_name("minilm"), base_model_name("st:some/model"), base_model_name("dir/x")
    ('all-MiniLM-L6-v2', 'some/model', 'dir/x')
    """
    base = base.strip()
    if base.lower() == "minilm":
        return MINILM
    if base.lower().startswith("st:") and base[3:]:
        return base[3:]
    if not base:
        raise ValueError("base must name a sentence-transformers model")
    return base


def _train(
    model: Any,
    torch: Any,
    pairs: list[tuple[int, int]],
    texts: list[str],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str,
    progress: bool,
) -> list[float]:
    """A plain training loop (no Trainer, so no `datasets` / `accelerate`); mean loss per epoch."""
    loss_fn = _losses_module().MultipleNegativesRankingLoss(model)
    rng = np.random.default_rng(seed)
    plan = [batches_without_repeats(pairs, batch_size, rng) for _ in range(epochs)]
    total = sum(len(b) for b in plan)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, int(0.1 * total))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    prepare = getattr(model, "preprocess", None) or model.tokenize
    means: list[float] = []
    model.train()
    try:
        with progress_bar(
            total, f"Fine-tuning on {len(pairs):,} pairs", progress, unit="batches"
        ) as advance:
            for epoch, batches in enumerate(plan):
                epoch_loss = 0.0
                for batch in batches:
                    columns = [
                        _to_device(prepare([texts[pairs[k][side]] for k in batch]), device)
                        for side in (0, 1)
                    ]
                    loss = loss_fn(columns, None)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    epoch_loss += float(loss.detach())
                    advance(1)
                means.append(round(epoch_loss / max(1, len(batches)), 6))
                logger.info(
                    "epoch %d: mean loss %.4f over %d batches", epoch + 1, means[-1], len(batches)
                )
    finally:
        model.eval()
    return means


def _losses_module() -> Any:
    """``sentence_transformers`` losses: the v6 location first, then the v3-v5 one."""
    try:
        return importlib.import_module("sentence_transformers.sentence_transformer.losses")
    except ImportError:
        return importlib.import_module("sentence_transformers.losses")


def _to_device(features: dict[str, Any], device: str) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def _check_target(target: Path) -> None:
    """Refuse to replace anything but a model directory (or an empty folder)."""
    if target.exists() and not target.is_dir():
        raise DataError("the output exists and is not a directory", path=target)
    is_model = any((target / name).is_file() for name in _MODEL_MARKERS)
    if target.is_dir() and not is_model and any(target.iterdir()):
        raise DataError(
            "the output folder is not empty and holds no sentence-transformers model; "
            "refusing to replace it (choose a new or empty folder)",
            path=target,
        )


def _save(model: Any, target: Path, manifest: dict[str, Any]) -> None:
    """Save into a hidden folder beside `target`, then swap it into place."""

    def fill(tmp: Path) -> None:
        model.save(str(tmp), create_model_card=False)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    swap_dir(target, fill)
