"""Functional coverage: cover groups filled by monitors, written per run, merged after the regression.

Role
----
A ``CoverGroup`` declares its bins up front (every key a monitor may sample) and counts the hits
monitors report. Bins are plain tuples of str/int so a group round-trips through JSON. A sample
outside the declared bins is an error (an illegal bin: the model of what can happen is wrong). A
bin that no run hit is a *hole*; a hole is acceptable only if ``tb/coverage_holes.py`` declares it
with a reason.

Monitors sample what they observed on the DUT's ports or internal signals, never the stimulus they
were asked to send (tb/fabric.py's router monitor, tb/pe_harness.py, tb/cocotb_fpu.py).

Each simulator run writes its groups to ``build/coverage/<group>.<run>.json`` (``save``); the
regression's pytest session merges every file into ``build/coverage/summary.json`` and a text table
``build/coverage/summary.txt`` and fails on an undeclared hole of any group that ran (tests/conftest.py
calls ``report``).

Interface
---------
CoverGroup(name, bins, doc="")    .sample(key, n=1); .hits; .holes(); .to_dict(); CoverGroup.from_dict
save(groups, run)                 write each group of one run under COVERAGE_DIR
merge(folder) -> {name: CoverGroup}   sum the hits of every saved run, group by group
report(folder, holes=None) -> (summary dict, text, undeclared holes {group: [bin]})
COVERAGE_DIR                      build/coverage
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .coverage_holes import DECLARED_HOLES

__all__ = ["CoverGroup", "IllegalBin", "save", "merge", "report", "write_report", "COVERAGE_DIR"]

COVERAGE_DIR = Path(__file__).resolve().parents[1] / "build" / "coverage"


class IllegalBin(AssertionError):
    """A monitor sampled a key its group does not declare."""


def _key(k):
    return tuple(k) if isinstance(k, (list, tuple)) else (k,)


class CoverGroup:
    def __init__(self, name: str, bins, doc: str = ""):
        self.name = name
        self.doc = doc
        self.hits = {_key(b): 0 for b in bins}
        if not self.hits:
            raise ValueError(f"cover group {name} declares no bins")

    def sample(self, key, n: int = 1):
        k = _key(key)
        if k not in self.hits:
            raise IllegalBin(f"cover group {self.name}: {k} is not a declared bin")
        self.hits[k] += n

    def holes(self) -> list[tuple]:
        return [k for k, v in self.hits.items() if not v]

    @property
    def covered(self) -> int:
        return sum(1 for v in self.hits.values() if v)

    def to_dict(self) -> dict:
        return {"name": self.name, "doc": self.doc, "bins": [[list(k), v] for k, v in self.hits.items()]}

    @classmethod
    def from_dict(cls, d: dict) -> CoverGroup:
        g = cls(d["name"], [tuple(k) for k, _ in d["bins"]], d.get("doc", ""))
        for k, v in d["bins"]:
            g.hits[tuple(k)] = v
        return g

    def absorb(self, other: CoverGroup):
        if set(other.hits) != set(self.hits):
            raise ValueError(f"cover group {self.name}: runs declare different bins")
        for k, v in other.hits.items():
            self.hits[k] += v


def save(groups, run: str, folder: Path | None = None) -> list[Path]:
    """Write each group of one run as ``<group>.<run>.<pid>.json``."""
    folder = Path(folder or COVERAGE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for g in groups:
        p = folder / f"{g.name}.{run}.{os.getpid()}.json"
        p.write_text(json.dumps(g.to_dict()))
        paths.append(p)
    return paths


def merge(folder: Path | None = None) -> dict[str, CoverGroup]:
    folder = Path(folder or COVERAGE_DIR)
    out: dict[str, CoverGroup] = {}
    for p in sorted(folder.glob("*.json")):
        if p.name.startswith("summary"):
            continue
        g = CoverGroup.from_dict(json.loads(p.read_text()))
        if g.name in out:
            out[g.name].absorb(g)
        else:
            out[g.name] = g
    return out


def _fmt(k) -> str:
    return "(" + ", ".join(str(x) for x in k) + ")"


def report(folder: Path | None = None, holes: dict | None = None):
    """Merge the saved runs; return (summary, text table, undeclared holes per group).

    ``holes``: {group: {bin tuple: reason}} of holes accepted on purpose (tb/coverage_holes.py)."""
    if holes is None:
        holes = DECLARED_HOLES
    groups = merge(folder)
    summary, undeclared = {}, {}
    lines = [f"{'group':<24} {'bins':>6} {'hit':>6} {'declared holes':>15} {'undeclared':>11} {'samples':>11}",
             "-" * 78]
    for name in sorted(groups):
        g = groups[name]
        accepted = {_key(k): r for k, r in holes.get(name, {}).items()}
        open_ = [k for k in g.holes() if k not in accepted]
        declared_hit = [k for k in accepted if g.hits.get(k)]
        summary[name] = {
            "doc": g.doc, "bins": len(g.hits), "hit": g.covered,
            "percent": round(100.0 * g.covered / len(g.hits), 2),
            "declared_holes": {_fmt(k): r for k, r in accepted.items() if k in g.hits and not g.hits[k]},
            "undeclared_holes": [_fmt(k) for k in open_],
            "declared_but_hit": [_fmt(k) for k in declared_hit],
            "samples": sum(g.hits.values()),
        }
        if open_:
            undeclared[name] = open_
        lines.append(f"{name:<24} {len(g.hits):>6} {g.covered:>6} {len(summary[name]['declared_holes']):>15} "
                     f"{len(open_):>11} {summary[name]['samples']:>11}")
    for name, open_ in undeclared.items():
        lines.append(f"\n{name}: {len(open_)} undeclared holes, e.g. " + ", ".join(_fmt(k) for k in open_[:8]))
    return summary, "\n".join(lines) + "\n", undeclared


def write_report(folder: Path | None = None, holes: dict | None = None):
    """``report`` and write build/coverage/summary.json and summary.txt; returns the same."""
    folder = Path(folder or COVERAGE_DIR)
    summary, text, undeclared = report(folder, holes)
    if summary:
        (folder / "summary.json").write_text(json.dumps(summary, indent=1))
        (folder / "summary.txt").write_text(text)
    return summary, text, undeclared
