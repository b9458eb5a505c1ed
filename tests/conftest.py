"""pytest hooks of the regression. (The Verilator models the tests share are in tb/models.py: tests
import no other test module.)"""

from __future__ import annotations

import pytest

_UNGROUPED = ("--dist loadgroup did not tag this test's xdist_group "
              "(pytest and pytest-xdist disagree; see the pin in pyproject.toml)")


def pytest_runtest_setup(item):
    """Fail grouped tests when ``--dist loadgroup`` is asked for but xdist could not tag the groups.

    Tests of one ``xdist_group`` share one simulator launch per worker (cached results); when the
    grouping silently stops (pytest 9.2 with pytest-xdist 3.8 did), two workers launch the same
    model at once and clobber each other's results."""
    if getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group") \
            and "@" not in item.nodeid:
        raise pytest.fail(_UNGROUPED, pytrace=False)
