"""pytest hooks of the regression: the test tiers, the xdist grouping check and the functional
coverage merge. (The Verilator builds the tests share are in tb/builds.py: tests import no other
test module.)

Tiers (``--tier``, docs/verification.md "Test tiers"):
    quick       no simulator: golden models, RTL units in Amaranth's simulator, the SDK in pure
                Python, the import rules (``make test-quick``). A test that builds a Verilator design
                or launches a simulator here fails: it must carry the ``sim`` marker. Whole-program
                runs in Amaranth's simulator (``thorough``) are left to the regression too.
    regression  everything but the ``slow`` tests (``make test``, what CI runs); the default.
    all         the regression and the ``slow`` tests (``make test-all``).
"""

from __future__ import annotations

import pytest

TIERS = ("quick", "regression", "all")

_UNGROUPED = ("--dist loadgroup did not tag this test's xdist_group "
              "(pytest and pytest-xdist disagree; see the pin in pyproject.toml)")


def pytest_addoption(parser):
    parser.addoption("--tier", choices=TIERS, default="regression",
                     help="quick: no simulator; regression (default): all but `slow`; all: everything")


def _excluded_markers(config) -> tuple[str, ...]:
    return {"quick": ("sim", "thorough", "slow"), "regression": ("slow",), "all": ()}[config.getoption("tier")]


def _named(config) -> tuple[str, ...]:
    """The test ids named on the command line (``path::test``): those run whatever their tier."""
    return tuple(a.split("/tests/")[-1] if "/tests/" in a else a for a in config.args if "::" in a)


def pytest_collection_modifyitems(config, items):
    """Deselect the tests the tier leaves out (their markers, docs/verification.md); a test named
    by its id on the command line always runs."""
    excluded = _excluded_markers(config)
    named = _named(config)
    keep, drop = [], []
    for item in items:
        left_out = any(item.get_closest_marker(m) for m in excluded) and not item.nodeid.startswith(named)
        (drop if left_out else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config):
    if config.getoption("tier") == "quick":
        _forbid_simulator_builds()


def _forbid_simulator_builds():
    """In the quick tier a simulator build or launch fails the test: every build and every
    Verilator, native-mesh or MPI launch goes through ``BuiltOnce.build``."""
    from sdk.builds.verilator import BuiltOnce

    def refuse(self):
        pytest.fail(f"this test builds or runs a simulator ({self.dir.name}): mark it `sim` (tier quick "
                    "runs without simulators)", pytrace=False)
    BuiltOnce.build = refuse


def pytest_runtest_setup(item):
    """Fail grouped tests when ``--dist loadgroup`` is asked for but xdist could not tag the groups.

    Tests of one ``xdist_group`` share one simulator launch per worker (cached results); when the
    grouping silently stops (pytest 9.2 with pytest-xdist 3.8 did), two workers launch the same
    build at once and clobber each other's results."""
    if getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group") \
            and "@" not in item.nodeid:
        raise pytest.fail(_UNGROUPED, pytrace=False)


# ---- functional coverage: merged after the session (tb/coverage.py) -------------------------------

def _controller(config) -> bool:
    return not hasattr(config, "workerinput")


def _whole_regression(config) -> bool:
    """No paths, no -k/-m selection, no -x, tier regression or all: the run is the full regression,
    whose coverage must close."""
    opt = config.option
    return not config.args_source == pytest.Config.ArgsSource.ARGS and not opt.keyword and not opt.markexpr \
        and not opt.maxfail and config.getoption("tier") != "quick"


def pytest_sessionstart(session):
    if _controller(session.config):
        import shutil

        from tb.coverage import COVERAGE_DIR
        shutil.rmtree(COVERAGE_DIR, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    if not _controller(session.config):
        return
    from tb.coverage import COVERAGE_DIR, write_report
    summary, text, undeclared = write_report()
    session.config._tessera_coverage = (summary, text, undeclared)
    if undeclared and _whole_regression(session.config) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config._tessera_coverage_dir = COVERAGE_DIR


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    cov = getattr(config, "_tessera_coverage", None)
    if not cov or not cov[0]:
        return
    summary, text, undeclared = cov
    terminalreporter.section("functional coverage (build/coverage/summary.txt)")
    terminalreporter.write(text)
    if undeclared:
        verdict = ("FAILED: undeclared coverage holes (close them with stimulus, or declare them with a "
                   "reason in tb/coverage_holes.py)" if _whole_regression(config)
                   else "holes not enforced: only part of the regression ran")
        terminalreporter.write_line(verdict)
