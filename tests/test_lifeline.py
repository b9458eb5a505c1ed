"""A simulator stops when its host process dies (sdk/cosim/lifeline.py).

The unit tests run a stand-in simulator (a child interpreter) beside a short-lived host; the
simulator test kills a host that drives the native engine in the middle of a long run and checks
that the simulator is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdk.cosim.lifeline import watch_host

REPO = Path(__file__).resolve().parents[1]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in state  # a zombie has stopped; only its exit status is left


def _wait_gone(pids, seconds: float) -> list:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        alive = [p for p in pids if not _gone(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def _simulator(host_pid: int, failure: Path) -> subprocess.Popen:
    """A stand-in simulator: watches ``host_pid`` and then sleeps (as a long run would)."""
    code = (f"import time; from sdk.cosim.lifeline import watch_host; print(watch_host({{'host_pid': {host_pid}}}, "
            "0.05), flush=True); time.sleep(30)")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "TESSERA_FAILURE_FILE": str(failure)})


def test_simulator_is_killed_when_its_host_is_gone(tmp_path):
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    sim = _simulator(host.pid, tmp_path / "failure.txt")
    host.wait()
    assert sim.wait(timeout=10) == -signal.SIGKILL
    assert f"the host process {host.pid} is gone" in (tmp_path / "failure.txt").read_text()


def test_watcher_ends_with_its_simulator(tmp_path):
    sim = _simulator(os.getpid(), tmp_path / "failure.txt")
    watcher = int(sim.stdout.readline())
    sim.kill()
    sim.wait()
    assert not _wait_gone([watcher], 10), "the watcher outlived its simulator"
    assert not (tmp_path / "failure.txt").exists()


def test_no_host_pid_no_watch():
    assert watch_host({}) is None


_HOST = """
import os, sys
from pathlib import Path
from sdk.engines.base import Until
from sdk.engines.sim import SimEngine
e = SimEngine(1, 4)
e.reset()
kids = []
for t in Path("/proc/self/task").iterdir():
    kids += (t / "children").read_text().split()
print(" ".join(kids), flush=True)
e.run(Until.cycles(10**9), max_idle=10**9)
"""


@pytest.mark.sim
@pytest.mark.xdist_group("engines_native_1x4")
def test_simulator_stops_when_its_host_is_killed():
    host = subprocess.Popen([sys.executable, "-c", _HOST], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = host.stdout.readline()
        kids = [int(p) for p in line.split()]
        assert kids, "the host started no simulator process"
        time.sleep(2)  # the long run is under way
        assert not [p for p in kids if _gone(p)], "the simulator ended before its host did"
        os.kill(host.pid, signal.SIGKILL)
        host.wait()
        alive = _wait_gone(kids, 15)
        assert not alive, f"simulator processes {alive} outlived their killed host"
    finally:
        if host.poll() is None:
            host.kill()
