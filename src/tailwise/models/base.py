"""The recommender contract every model follows.

A model is fit on a :class:`~tailwise.data.Dataset` and scores users from their rows of the
user-item matrix (so users can be folded in without refitting). ``recommend`` is shared: it
batches users, removes seen items, applies an optional candidate whitelist and takes the top-k.
Fitted state is a dict of NumPy arrays plus the init parameters, so models save without pickle.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.errors import ColdStartError, NotFittedError, NumericalError
from tailwise.models import memory
from tailwise.models.params import Rule, check_params, rules
from tailwise.models.state import StateCheck
from tailwise.ranking import Recommendations, top_k

if TYPE_CHECKING:
    from tailwise.models.relations import Relations
    from tailwise.text.side import TextSide

log = logging.getLogger(__name__)


@runtime_checkable
class VectorModel(Protocol):
    """A model whose scores are dot products: ``score(u, i) = user_factors[u] . item_factors[i]``.

    ALS, BPR, the adapter and twotower follow it, so the pipeline can retrieve their candidates
    through a vector index (exact or ANN, :mod:`tailwise.index`) instead of scoring every item.
    """

    def user_factors(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """User vectors float32 [len(users), d]; unknown users are folded in from `rows`."""
        ...

    def item_factors(self) -> np.ndarray:
        """Item vectors float32 [n_items, d] (the fitted array itself, not a copy)."""
        ...


def is_vector_model(model: object) -> bool:
    """Whether `model` follows :class:`VectorModel` (it scores by dot products). A model whose
    fitted form decides it (the hybrid: only its factor backbone) says so in ``dot_product``."""
    return isinstance(model, VectorModel) and bool(getattr(model, "dot_product", True))


class Recommender:
    """Base class: subclasses set ``name`` and implement ``_fit`` and ``_score``.

    Following scikit-learn, ``__init__`` only stores parameters, ``fit`` returns ``self`` and
    fitted attributes end in ``_``. Subclasses declare the values each init parameter accepts
    in ``param_rules`` (:mod:`tailwise.models.params`), list their fitted arrays in
    ``_state_keys`` and say how the arrays fit together in ``_check_state``.
    """

    name: ClassVar[str] = "base"
    #: init parameter -> the values it accepts; checked on fit and by ``make_model``
    param_rules: ClassVar[Mapping[str, Rule]] = rules()
    _state_keys: ClassVar[tuple[str, ...]] = ()
    #: fitted arrays that older model directories may lack
    _optional_state: ClassVar[tuple[str, ...]] = ()
    #: fitted arrays where NaN stands for "unknown" (not a failed fit)
    _nan_allowed: ClassVar[tuple[str, ...]] = ()
    #: what to use instead when a fit is above the memory budget (models with a
    #: :meth:`memory_estimate`), e.g. ``"--model als"``
    instead: ClassVar[str] = ""

    # ------------------------------------------------------------------ to implement
    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        raise NotImplementedError

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """Dense float32 scores [len(users), n_items] for users given by index and history rows."""
        raise NotImplementedError

    def _check_state(self, check: StateCheck) -> None:
        """Declare the shapes of the fitted arrays (see :class:`~tailwise.models.state.StateCheck`)."""

    def memory_estimate(self, dataset: Dataset) -> int | None:
        """Bytes the fit on `dataset` needs at its peak, above the dataset itself, for models
        whose memory grows faster than the data (dense item x item arrays); None: not
        estimated (the fit's memory is of the order of the data's). ``memory_budget_`` is set
        when this is called, so a model can choose a variant that fits and estimate that."""
        return None

    def _memory_what(self, dataset: Dataset) -> str:
        """What :meth:`memory_estimate` counts, for the refusal's message (e.g. ``"for 98,640
        items with interactions (a dense items x items matrix)"``)."""
        return ""

    # ------------------------------------------------------------------ shared
    def check_memory(self, dataset: Dataset, memory_budget: int | None = None) -> None:
        """Set ``memory_budget_`` (bytes: `memory_budget`, or
        :func:`~tailwise.models.memory.default_budget` when None), then check that a fit on
        `dataset` stays within it. :meth:`fit` starts with this; the experiment runner calls it
        for every model before fitting any.

        Raises
        ------
        MemoryBudgetError
            :meth:`memory_estimate` is above the budget; the message names the estimate, the
            budget and :attr:`instead`.
        """
        self.memory_budget_ = int(memory.default_budget() if memory_budget is None else memory_budget)
        estimate = self.memory_estimate(dataset)
        if estimate is not None:
            memory.refuse_above(self.name, estimate, self.memory_budget_, self.instead, self._memory_what(dataset))

    def fit(self, dataset: Dataset, memory_budget: int | None = None) -> Recommender:
        """Fit on the binary user-item matrix of `dataset`; returns self.

        Parameters
        ----------
        dataset : Dataset
            The interactions.
        memory_budget : int, optional
            Bytes the fit may use (default :func:`tailwise.models.memory.default_budget`, a
            share of the machine's total memory); kept in ``memory_budget_``.

        Raises
        ------
        ParameterError
            A parameter outside its rule (:attr:`param_rules`), before any work.
        MemoryBudgetError
            :meth:`memory_estimate` is above `memory_budget`, before the large arrays are
            allocated (the message names the estimate, the budget and :attr:`instead`).
        NumericalError
            The fit gave NaN or infinite values (parameters or data outside a workable range).
        """
        check_params(self.name, self.param_rules, self.get_params())
        self.fit_info_: dict[str, object] = {}  # what this fit chooses (not the last fit's)
        self.check_memory(dataset, memory_budget)
        self.n_items_ = dataset.n_items
        self.n_users_ = dataset.n_users
        self._fit(dataset.matrix(), dataset)
        problems = self.check_state()
        if problems:
            params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            raise NumericalError(
                f"fitting {self.name} ({params or 'no parameters'}) gave unusable values: "
                f"{problems[0]}; try other parameters"
            )
        return self

    def fit_info(self) -> dict[str, object]:
        """What the last fit chose, in words (e.g. the hybrid's backbone): ``fit_info_``, which
        :meth:`fit` empties first and a model may fill during :meth:`memory_estimate` or
        ``_fit``; empty for a model that records nothing. The pipeline records it in the model
        directory's manifest."""
        return getattr(self, "fit_info_", {})

    def get_params(self) -> dict[str, object]:
        """The init parameters, read from the signature (one source of truth)."""
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self"}

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(dataset) first")

    def score(self, users: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dense float32 scores ``[len(users), n_items]`` of users given by index and history
        row (an index ``>= n_users_`` or ``-1`` is folded in from its row alone); higher is better."""
        self._check_fitted()
        return np.asarray(self._score(np.asarray(users, dtype=np.int64), sp.csr_matrix(user_items)), dtype=np.float32)

    def score_batches(
        self,
        users: np.ndarray,
        user_items: sp.csr_matrix,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
        batch_size: int = 1024,
    ) -> Iterator[tuple[slice, sp.csr_matrix, np.ndarray]]:
        """``(users slice, history rows, scores)`` per batch of users, with ``-inf`` for the
        items that may not be recommended: those in the user's row (when `exclude_seen`) and
        those outside `candidates` (a whitelist of item indices, when given).

        The masked scores are what every candidate stage selects from (the model's own top-k in
        :meth:`recommend`, the pipeline's two-stage lists).
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        if user_items.shape != (len(users), self.n_items_):
            raise ValueError(
                f"user_items must have shape ({len(users)}, {self.n_items_}), not {user_items.shape}"
            )
        user_items = sp.csr_matrix(user_items)
        allowed = None
        if candidates is not None:
            allowed = np.zeros(self.n_items_, dtype=bool)
            allowed[np.asarray(candidates, dtype=np.int64)] = True
        for start in range(0, len(users), batch_size):
            sl = slice(start, start + batch_size)
            rows = user_items[sl]
            scores = np.array(self._score(users[sl], rows), dtype=np.float32, copy=True)
            if exclude_seen:
                r, c = rows.nonzero()
                scores[r, c] = -np.inf
            if allowed is not None:
                scores[:, ~allowed] = -np.inf
            yield sl, rows, scores

    def recommend(
        self,
        users: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
        batch_size: int = 1024,
    ) -> Recommendations:
        """The model's own top-k by score for each user (no re-ranking: that is a stage of
        :class:`tailwise.pipeline.Pipeline`, which also applies the model's
        :meth:`default_exposure`).

        Parameters
        ----------
        users : int array
            User indices; a user unknown to the model (index ``>= n_users_`` or ``-1``) is scored
            from its row of `user_items` alone where the model supports it.
        user_items : csr_matrix [len(users), n_items]
            One row per user in `users`: the history to score from and, when `exclude_seen`,
            the items never to recommend.
        candidates : int array, optional
            Whitelist: only these items may be recommended.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        out_items, out_scores = [], []
        for _, _, scores in self.score_batches(users, user_items, exclude_seen, candidates, batch_size):
            idx, val = top_k(scores, k)
            out_items.append(idx)
            out_scores.append(val)
        if not out_items:
            return Recommendations(np.empty((0, k), np.int64), np.empty((0, k), np.float32))
        return Recommendations(np.vstack(out_items), np.vstack(out_scores))

    # ------------------------------------------------------------------ what the stages read
    def default_exposure(self) -> dict[str, object] | None:
        """The re-ranking stage the pipeline applies when the caller names none, as the keyword
        arguments of :class:`tailwise.rerank.Exposure` (None: the model's top-k as it is).

        A model declares its list shaping here instead of doing it itself (the hybrid's
        calibrated tail slots)."""
        return None

    def text_side(self, progress: bool = True) -> TextSide | None:
        """The model's language side (encoder, token budget, embedding cache), or None for
        models that read no item text."""
        return None

    def item_relations(self) -> Relations | None:
        """The item-to-item affinity the model scores with (explanations, similar items), or
        None when it has none of its own (the caller then uses co-occurrence)."""
        return None

    # ------------------------------------------------------------------ new items (cold start)
    def add_items(self, texts: list[str]) -> None:
        """Append items known only by their text; they get indices ``n_items_ ..`` in order.

        Text-aware models override this and score the new items at once from their text.
        Overrides rebind attributes to new arrays and never write into fitted arrays, so a
        shallow copy (``copy.copy(model)``) can grow while the original keeps serving.

        Raises
        ------
        ColdStartError
            Here, for models that learn items only from interactions.
        """
        raise ColdStartError(
            f"the {self.name} model cannot score new items: it learns items only from their "
            "interactions. Refit once they have some (tailwise retrain), or use a text-aware "
            "model (content, adapter, hybrid, twotower)"
        )

    def update_item_texts(self, indices: np.ndarray, texts: list[str]) -> None:
        """Re-read the text of existing items (interactions are kept); like :meth:`add_items`
        it rebinds attributes. Models that do not read text have nothing to update."""

    # ------------------------------------------------------------------ state for artifacts
    def get_state(self) -> dict[str, np.ndarray]:
        """Fitted arrays by name (what a model directory stores)."""
        self._check_fitted()
        state = {key: np.asarray(getattr(self, key)) for key in self._state_keys}
        state["n_items_"] = np.asarray(self.n_items_)
        state["n_users_"] = np.asarray(self.n_users_)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> Recommender:
        """Restore fitted arrays saved by :meth:`get_state` (check them with :meth:`check_state`)."""
        for key, value in state.items():
            setattr(self, key, value.item() if value.ndim == 0 else value)
        return self

    def check_state(self, prefix: str = "") -> list[str]:
        """What is wrong with the fitted arrays, in words (empty when nothing): arrays missing,
        shapes that do not fit together or the item and user counts, NaN or infinite values.
        `prefix` names the arrays as a containing model stores them (the hybrid's ``"ease."``)."""
        counts = {k: getattr(self, k, None) for k in ("n_items_", "n_users_")}
        bad = [k for k, v in counts.items() if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0]
        if bad:
            return [f"{prefix + bad[0]!r} is missing or not a count"]
        state = {k: getattr(self, k) for k in self._state_keys if hasattr(self, k)}
        check = StateCheck(state, int(self.n_items_), int(self.n_users_), prefix)
        for key in self._state_keys:
            if key not in self._optional_state:
                check.has(key)
        check.finite(self._nan_allowed)
        if not check.problems:
            self._check_state(check)
        return check.problems
