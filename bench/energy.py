"""Energy figures of the GEMM and the sparse GEMV, from the native mesh's activity counters.

Runs, on the native Verilator mesh (default 8x8, small profile), the f16 -> f32 GEMM (default
256x256x256) and the sparse GEMV (M x K of the GEMM, density 0.1), bit-exact against the golden
models, with every tile's activity counters read over each run (docs/observability.md). Prices
them with the energy model (sdk/energy.py; --energy FILE overrides its table) and projects the
GEMM to a wafer-sized mesh (750 x 994 PEs of the wse profile at 850 MHz). Then runs the same
kernels again on a mesh built without counters (the profile with ``counters=False``) to measure
what the counters cost in simulation time.

Per kernel the JSON has: cycles, joules, pj_per_mac (per useful MAC), gflops_per_watt,
energy_breakdown (joules by component; they sum to joules), counters_overhead (wall time of the
run with counters on and read / off), wafer_power_watts_projection (the GEMM; with its
assumptions), and the details (energy report, activity totals, bit-exact).

Usage:
    python -m bench.energy [--json build/bench/energy.json] [--mesh 8x8] [--shape 256x256x256]
                           [--density 0.1] [--energy FILE] [--no-overhead] [--no-plots]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

from bench.common import dims
from hdl.probe import COUNTER_NAMES
from hdl.profiles import get_profile
from sdk.builds.native_mesh import native_mesh_build
from sdk.builds.paths import BUILD
from sdk.cases import format_table, gemm_case, gemv_case, run_cases
from sdk.energy import EnergyModel
from sdk.observe import observe, useful_macs
from sdk.records import SdkError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=BUILD / "bench" / "energy.json")
    ap.add_argument("--mesh", default="8x8")
    ap.add_argument("--shape", default="256x256x256", help="MxKxN of the GEMM")
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--profile", default="small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--energy", default=None, help="JSON file overriding the energy table")
    ap.add_argument("--no-overhead", action="store_true", help="skip the run without counters")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args(argv)
    rows, cols = dims(args.mesh, 2, "mesh")
    m, k, n = dims(args.shape, 3, "shape")
    try:
        model = EnergyModel.load(args.energy)
        prof = get_profile(args.profile)

        def cases():
            return [gemm_case(rows, cols, m, k, n, "f16", prof.name, args.seed),
                    gemv_case(rows, cols, m, k, args.density, prof.name, args.seed)]

        cases()
    except (SdkError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    print(f"[energy] {rows}x{cols} {prof.name}: GEMM {m}x{k}x{n} f16 and sparse GEMV at {args.density}, "
          "counters on (progress every 20,000 cycles)", flush=True)
    recs = run_cases(cases(), progress=20_000, counters=True, run_name="bench-energy")
    print()
    print(format_table(recs))
    seen = observe(recs, args.json.parent, model, prefix="energy_") if not args.no_plots else None
    off = None
    if not args.no_overhead:
        bare = dataclasses.replace(prof, counters=False)
        print(f"\n[energy] the same kernels on a {rows}x{cols} mesh built without counters ...", flush=True)
        off_build = native_mesh_build(rows, cols, bare, name=f"native_mesh_{rows}x{cols}_{prof.name}_nocounters")
        off = run_cases(cases(), progress=20_000, build=off_build, run_name="bench-energy-off")
        for a, b in zip(recs, off, strict=True):
            if (a.cycles, a.bit_exact) != (b.cycles, b.bit_exact):
                raise SystemExit(f"error: {a.name}: {a.cycles} cycles with counters, {b.cycles} without")
    out = []
    for i, rec in enumerate(recs):
        rep = model.report(rec.activity, profile=rec.profile, useful_macs=useful_macs(rec))
        assert math.isclose(sum(rep.breakdown.values()), rep.joules, rel_tol=1e-12)
        row = {
            "kernel": rec.name, "kind": rec.kind, "mesh": [rows, cols], "profile": rec.profile,
            "cycles": rec.cycles, "bit_exact": rec.bit_exact, "useful_macs": useful_macs(rec),
            "macs_counted": rec["macs_counted"],
            "joules": rep.joules, "pj_per_mac": rep.pj_per_mac, "gflops_per_watt": rep.gflops_per_watt,
            "watts_at_850mhz": rep.watts, "energy_breakdown": rep.breakdown,
            "counters_overhead": None, "wafer_power_watts_projection": None,
            "activity_totals": {c: rec.activity.total(c) for c in COUNTER_NAMES},
            "energy_report": rep.to_dict(),
        }
        if rec.kind == "gemm":
            row["utilization"] = rec["utilization"]
            w = model.wafer_projection(rec.activity, profile="wse")
            row["wafer_power_watts_projection"] = w["watts"]
            row["wafer_projection"] = w
        if off is not None:
            row["counters_overhead"] = round(rec.wall_seconds / off[i].wall_seconds, 4)
            row["wall_seconds_counters_on"] = rec.wall_seconds
            row["wall_seconds_counters_off"] = off[i].wall_seconds
        out.append(row)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"kernels": out, "pictures": seen["pictures"] if seen else None,
                                     "energy_table": model.to_dict()}, indent=2))
    print()
    print(f"{'kernel':34} {'cycles':>8} {'joules':>10} {'pJ/MAC':>8} {'GFLOPS/W':>9} {'overhead':>9} {'wafer kW':>9}")
    for r in out:
        ovh = f"{r['counters_overhead']:.3f}" if r["counters_overhead"] else "-"
        wafer = f"{r['wafer_power_watts_projection'] / 1e3:.2f}" if r["wafer_power_watts_projection"] else "-"
        print(f"{r['kernel']:34} {r['cycles']:>8} {r['joules']:>10.3e} {r['pj_per_mac']:>8.3f} "
              f"{r['gflops_per_watt']:>9.1f} {ovh:>9} {wafer:>9}")
    print(f"wrote {args.json} ({time.monotonic() - t0:.0f} s)")
    return 0 if all(r["bit_exact"] for r in out) else 1


if __name__ == "__main__":
    sys.exit(main())
