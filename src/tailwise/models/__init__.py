"""Recommenders: one module per model, all following :class:`~tailwise.models.base.Recommender`."""

from __future__ import annotations

from tailwise.models.adapter import Adapter
from tailwise.models.base import Recommendations, Recommender, top_k
from tailwise.models.content import Content
from tailwise.models.ease import EASE
from tailwise.models.factors import ALS, BPR
from tailwise.models.hybrid import Hybrid
from tailwise.models.itemknn import ItemKNN
from tailwise.models.params import check_params
from tailwise.models.popular import Popular
from tailwise.models.twotower import TwoTower

#: model name (as used by the CLI and model directories) -> class
MODELS: dict[str, type[Recommender]] = {
    cls.name: cls for cls in (Popular, ItemKNN, EASE, ALS, BPR, Content, Adapter, Hybrid, TwoTower)
}


def make_model(name: str, **params: object) -> Recommender:
    """A new, unfitted model by name, with parameters overriding its defaults.

    Raises
    ------
    ValueError
        For an unknown model name.
    ParameterError
        For a parameter the model does not have, or a value outside its rule
        (:attr:`Recommender.param_rules`, :mod:`tailwise.models.params`).
    """
    try:
        cls = MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from None
    check_params(name, cls.param_rules, params)
    return cls(**params)

__all__ = ["ALS", "BPR", "EASE", "MODELS", "Adapter", "Content", "Hybrid", "ItemKNN", "Popular", "Recommendations", "Recommender", "TwoTower", "make_model", "top_k"]
