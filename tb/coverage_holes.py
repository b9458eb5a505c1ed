"""Coverage holes accepted on purpose, each with the reason it cannot (or need not) be hit.

``DECLARED_HOLES[group][bin] = reason``. tb/coverage.py ``report`` treats these as closed; every
other hole of a group that ran fails the regression (tests/conftest.py). A declared hole that is
hit anyway is listed in the summary under ``declared_but_hit`` (the reason was wrong).
"""

from __future__ import annotations

__all__ = ["DECLARED_HOLES"]

DECLARED_HOLES: dict[str, dict[tuple, str]] = {}
