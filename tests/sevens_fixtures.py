"""Fixtures shared by the tests of sevens/ (pytest_plugins = ["tests.sevens_fixtures"]): real
sevens, and what the descriptors and the checks on the images make of changed ones, each computed
once per session (per xdist worker)."""

import numpy as np
import pytest

from sevens.descriptors import descriptors
from sevens.mnist import load_mnist_sevens
from tests.sevens_inputs import (CHANGED, CHANGED_ROWS, TRAVERSAL_ROWS, changed_sevens,
                                 evidence_through, traversal)


@pytest.fixture(scope="session")
def real_sevens():
    return (load_mnist_sevens()["test"][:16] / 255.0).astype(np.float32)


@pytest.fixture(scope="session")
def traversal_sevens(real_sevens):
    return real_sevens[:TRAVERSAL_ROWS]


@pytest.fixture(scope="session")
def many_sevens():
    return (load_mnist_sevens()["train"][: 2 * CHANGED_ROWS] / 255.0).astype(np.float32)


@pytest.fixture(scope="session")
def described(traversal_sevens):
    """described(change, low, middle, high): the descriptors of that traversal of the traversal
    sevens, computed once."""
    found = {}

    def describe(change, low, middle, high):
        key = (change, low, middle, high)
        if key not in found:
            found[key] = descriptors(*traversal(traversal_sevens, change, low, middle, high))
        return found[key]

    return describe


@pytest.fixture(scope="session")
def changed_evidence(many_sevens):
    """changed_evidence(name): the sevens changed as CHANGED[name] says, the drawn values and the
    evidence of the images against the other CHANGED_ROWS sevens, computed once."""
    found = {}

    def evidence(name):
        if name not in found:
            change, low, high, seed, last = CHANGED[name]
            rng = np.random.default_rng(seed)
            changed, values = changed_sevens(many_sevens, change, low, high, rng)
            clean = many_sevens[CHANGED_ROWS:]
            found[name] = changed, values, evidence_through(changed, clean, rng, last)
        return found[name]

    return evidence
