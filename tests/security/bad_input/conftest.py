"""Fixtures of the bad-input tests (the helpers they share are modules beside this one: ``helpers``,
``generators``, ``oracle``, ``world``)."""

import pytest

from .world import World, build_world


@pytest.fixture
def world(db) -> World:
    """Built once per test; each Hypothesis example runs in a savepoint that is rolled back."""
    return build_world()
