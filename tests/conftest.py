"""Shared fixtures: analytic images and a deterministic random generator."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


@pytest.fixture
def ramp():
    """I = a*x + b*y on a 32x40 grid, with (a, b) = (0.01, -0.007)."""
    y, x = np.mgrid[0:32, 0:40].astype(np.float32)
    return (0.3 + 0.01 * x - 0.007 * y).astype(np.float32), 0.01, -0.007
