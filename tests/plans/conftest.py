"""Fixtures of the plans tests."""

from __future__ import annotations

import pytest

from plans.defaults import DEFAULT_UNITS
from plans.parsing import UnitDirectory


@pytest.fixture(scope="module")
def directory() -> UnitDirectory:
    """The department's units as the parser knows them."""
    return UnitDirectory.from_seed(DEFAULT_UNITS)
