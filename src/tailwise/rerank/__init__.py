"""Second-stage re-rankers that bring the long tail into top-k lists, with one knob.

``make_reranker(name, tail_weight)`` builds one; ``tail_weight`` in ``[0, 1]`` (0 = off) maps
onto each method's own parameter:

========== ======================================================= ==========================
name       what                                                    knob ``w`` maps to
========== ======================================================= ==========================
xquad      head and tail as aspects to cover (Abdollahpouri 2019)  xQuAD lambda
calibrated list mix = user's head/mid/tail mix (Steck 2018)        calibration strength
mmr        diversity by item-vector similarity (Carbonell 1998)    MMR diversity weight
stochastic Plackett-Luce draws over the scores (Singh 2019)        softmax temperature
tailslots  calibrated tail slots in each list (the hybrid's default) share of tail slots
========== ======================================================= ==========================

:class:`Exposure` carries the settings (re-ranker, knob, candidates, seed) to the pipeline's
re-ranking stage.
"""

from __future__ import annotations

from tailwise.rerank.base import RerankContext, Reranker
from tailwise.rerank.calibrated import Calibrated
from tailwise.rerank.exposure import Exposure
from tailwise.rerank.mmr import MMR
from tailwise.rerank.stochastic import Stochastic
from tailwise.rerank.tailslots import TailSlots
from tailwise.rerank.xquad import XQuAD

#: re-ranker name (as used by the CLI, the pipeline and the sweep) -> class
RERANKERS: dict[str, type[Reranker]] = {cls.name: cls for cls in (XQuAD, Calibrated, MMR, Stochastic, TailSlots)}


def make_reranker(name: str | None, tail_weight: float, seed: int = 0) -> Reranker | None:
    """A re-ranker by name with the knob set; None when `name` is None/"none" or the knob is 0.

    Examples
    --------
    >>> make_reranker("xquad", 0.3)
    XQuAD(tail_weight=0.3, seed=0)
    >>> make_reranker("none", 0.3) is None, make_reranker("mmr", 0.0) is None
    (True, True)
    >>> make_reranker("shuffle", 0.5)
    Traceback (most recent call last):
    ...
    ValueError: unknown re-ranker 'shuffle'; choose from none, xquad, calibrated, mmr, stochastic, tailslots
    """
    return Exposure(name, tail_weight, seed=seed).reranker()


__all__ = [
    "MMR", "RERANKERS", "Calibrated", "Exposure", "RerankContext", "Reranker", "Stochastic",
    "TailSlots", "XQuAD", "make_reranker",
]  # fmt: skip
