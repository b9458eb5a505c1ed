"""Shared driver for the per-profile benchmark scripts (bench/fabric.py, bench/pe.py).

Interface:
    bench_args(description, default_json) -> argparse.Namespace   --json, --profile, --no-cells
    run_profiles(args, measure, design, top, cells_key, summary_keys, tag, keep_memories=False)
        -> {profile: figures} | None
        for each profile: figures = measure(profile); unless --no-cells, add the Yosys generic cell
        count of design(profile) as figures[cells_key] (and figures[cells_key + "_by_type"]);
        keep_memories: memories stay one $mem_v2 cell each (bench/fabric.py yosys_cells).
        The JSON (summary_keys of the first profile at top level, plus "profiles") is rewritten after
        every profile, so a long synthesis of a later profile loses nothing. None on a bad profile.
    require_extra(module, extra)   import ``module``, installing the project's optional dependency
        group ``extra`` (pyproject.toml) into this interpreter first if it is missing; a benchmark
        calls it before it simulates anything
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

from hdl.profiles import ProfileError, get_profile

__all__ = ["bench_args", "run_profiles", "require_extra"]

REPO = Path(__file__).resolve().parent.parent


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
    from bench.fabric import yosys_cells

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
