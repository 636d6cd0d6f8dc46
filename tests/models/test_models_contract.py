"""Every model passes the shared contract (tailwise.testing.contract)."""

import pytest

from tailwise.models import ALS, BPR, EASE, ItemKNN, Popular
from tailwise.testing.contract import RecommenderContract


class TestPopular(RecommenderContract):
    checkerboard = False  # every item is equally popular on the checkerboard

    def make(self):
        return Popular()


class TestEASE(RecommenderContract):
    def make(self):
        return EASE(l2=1.0)


class TestItemKNN(RecommenderContract):
    def make(self):
        return ItemKNN(neighbours=10)


class TestALS(RecommenderContract):
    def make(self):
        pytest.importorskip("implicit")
        return ALS(factors=8, iterations=10, regularization=0.01, alpha=1.0)


class TestBPR(RecommenderContract):
    def make(self):
        pytest.importorskip("implicit")
        return BPR(factors=8, iterations=200, learning_rate=0.05)
