"""The benches as programs: `python -m bench` (bench/__main__.py) lists every bench with the first line
of its docstring and refuses an unknown name with the list; every bench runs as
`python -m bench.<name>` from the repository root (its --help, nothing simulated)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: the programs of bench/; its libraries (common.py, decode_projection.py) have no __main__ block
BENCHES = sorted(p.stem for p in (REPO / "bench").glob("*.py")
                 if not p.stem.startswith("_") and 'if __name__ == "__main__":' in p.read_text())


def _bench(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def test_the_list_names_every_bench_with_what_it_measures():
    p = _bench("bench")
    assert p.returncode == 0, p.stderr
    rows = [line.split(None, 1) for line in p.stdout.splitlines()]
    assert [r[0] for r in rows] == BENCHES
    assert all(len(r) == 2 and len(r[1]) > 20 for r in rows), rows
    assert _bench("bench", "--names").stdout.split() == BENCHES


def test_check_refuses_an_unknown_bench_with_the_list():
    assert _bench("bench", "--check", "pe").returncode == 0
    for name in ("nope", "common", "__main__", ""):
        p = _bench("bench", "--check", name)
        assert p.returncode == 2 and f"unknown bench {name!r}" in p.stderr and ", ".join(BENCHES) in p.stderr, p.stderr


@pytest.mark.parametrize("name", BENCHES)
def test_each_bench_runs_as_a_module(name):
    p = _bench(f"bench.{name}", "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage:"), p.stderr[-2000:]
