"""The exposure settings: which re-ranker shapes the lists, how hard, over how many candidates.

One immutable :class:`Exposure` travels from wherever the choice is made (the command line, an
HTTP request, a trade-off sweep, a model's default) to the pipeline's re-ranking stage, so the
rules for reading and checking the settings live here once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tailwise.rerank.base import Reranker, check_weight

#: candidates per user handed to a re-ranker unless the settings say otherwise
DEFAULT_CANDIDATES = 300
#: the knob's value when a re-ranker is named without one
DEFAULT_TAIL_WEIGHT = 0.5


@dataclass(frozen=True)
class Exposure:
    """Settings of the re-ranking stage.

    Parameters
    ----------
    rerank : str, optional
        A name of :data:`tailwise.rerank.RERANKERS`; None (or ``"none"``): no re-ranker, the
        model's own lists (shaped by its default exposure, if it declares one).
    tail_weight : float
        The one knob in ``[0, 1]``; 0 turns the re-ranker off.
    n_candidates : int
        Candidates per user (each user's top-N by score) the re-ranker chooses from; at least
        k are used.
    seed : int
        Seed of any random choice (the stochastic re-ranker).
    head_share : float, optional
        Share of items counted as head for this stage; None: the pipeline's (0.2).

    Examples
    --------
    >>> Exposure("XQuAD", 0.3)
    Exposure(rerank='xquad', tail_weight=0.3, n_candidates=300, seed=0, head_share=None)
    >>> Exposure("mmr", 0.0).reranker() is None, Exposure().reranker() is None
    (True, True)
    >>> Exposure("shuffle", 0.5)
    Traceback (most recent call last):
    ...
    ValueError: unknown re-ranker 'shuffle'; choose from none, xquad, calibrated, mmr, stochastic, tailslots
    """

    rerank: str | None = None
    tail_weight: float = 0.0
    n_candidates: int = DEFAULT_CANDIDATES
    seed: int = 0
    head_share: float | None = None

    def __post_init__(self) -> None:
        from tailwise.rerank import RERANKERS

        name = self.rerank.strip().lower() if isinstance(self.rerank, str) else self.rerank
        if name == "none":
            name = None
        if name is not None and name not in RERANKERS:
            raise ValueError(f"unknown re-ranker {self.rerank!r}; choose from none, {', '.join(RERANKERS)}")
        check_weight(self.tail_weight)
        if int(self.n_candidates) < 1:
            raise ValueError(f"n_candidates must be at least 1, not {self.n_candidates}")
        if self.head_share is not None and not 0.0 <= float(self.head_share) <= 1.0:
            raise ValueError(f"head_share must be in [0, 1], not {self.head_share}")
        object.__setattr__(self, "rerank", name)
        object.__setattr__(self, "tail_weight", float(self.tail_weight))
        object.__setattr__(self, "n_candidates", int(self.n_candidates))

    @classmethod
    def parse(cls, rerank: str | None, tail_weight: float | None = None, **rest: object) -> Exposure:
        """Settings as a person gives them: a re-ranker named without a knob gets
        :data:`DEFAULT_TAIL_WEIGHT`; a knob above 0 without a re-ranker is an error."""
        name = rerank.strip().lower() if rerank else None
        if name in (None, "none"):
            if tail_weight not in (None, 0, 0.0):
                raise ValueError("a tail weight needs a re-ranker (xquad, calibrated, mmr, stochastic or tailslots)")
            return cls(None, 0.0, **rest)  # type: ignore[arg-type]
        return cls(name, DEFAULT_TAIL_WEIGHT if tail_weight is None else tail_weight, **rest)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        """Whether a re-ranker runs (a name and a knob above 0)."""
        return self.rerank is not None and self.tail_weight > 0

    def reranker(self) -> Reranker | None:
        """A fresh re-ranker for these settings (stochastic ones draw from `seed` again), or
        None when no re-ranker runs."""
        from tailwise.rerank import RERANKERS

        if not self.active:
            return None
        cls = RERANKERS[self.rerank]  # type: ignore[index]
        extra = {} if self.head_share is None else {"head_share": self.head_share}
        return cls(tail_weight=self.tail_weight, seed=self.seed, **extra)

    def replace(self, **changes: object) -> Exposure:
        """A copy with some settings changed (e.g. a per-request seed)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
