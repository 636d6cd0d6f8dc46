"""Recommenders: one module per model, all following :class:`~tailwise.models.base.Recommender`."""

from __future__ import annotations

from tailwise.models.adapter import Adapter
from tailwise.models.base import Recommendations, Recommender, top_k
from tailwise.models.content import Content
from tailwise.models.ease import EASE
from tailwise.models.factors import ALS, BPR
from tailwise.models.hybrid import Hybrid
from tailwise.models.itemknn import ItemKNN
from tailwise.models.popular import Popular
from tailwise.models.twotower import TwoTower

#: model name (as used by the CLI and model directories) -> class
MODELS: dict[str, type[Recommender]] = {
    cls.name: cls for cls in (Popular, ItemKNN, EASE, ALS, BPR, Content, Adapter, Hybrid, TwoTower)
}


def make_model(name: str, **params: object) -> Recommender:
    """A new, unfitted model by name, with parameters overriding its defaults."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from None
    import inspect

    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"model {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(allowed) or '(none)'}"
        )
    return cls(**params)


__all__ = ["ALS", "BPR", "EASE", "MODELS", "Adapter", "Content", "Hybrid", "ItemKNN", "Popular", "Recommendations", "Recommender", "TwoTower", "make_model", "top_k"]
