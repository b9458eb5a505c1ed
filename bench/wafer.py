"""Wafer figures: spares, repair cost, bypass latency, die-boundary throughput, GEMM on repaired meshes.

Usage: python -m bench.wafer [--json PATH] [--mesh 8x8] [--maps 3] [--rate 0.01] [--scheme 1/4]
                             [--engine native|hierarchical]

What it measures (docs/wafer.md), each printed and written to the JSON:
    spare_scheme, defect_rate, repairable_fraction, spare_overhead_pct
        the yield model (bench/yield.py, exact formula) for a 750 x 994 wafer at 10^-4 defective
        PEs per PE, for the best scheme within 1.5 % spares
    repair_cells_per_tile       Yosys generic cells of one repair cell (hdl/repair_cell.py) for the
                                wafer scheme's K (``_by_spares`` for K = 1..3), small profile;
                                ``router_cells`` the small router's, for scale
    bypass_extra_latency_cycles measured on the RTL (the wafer top on Verilator): a row with one
                                defective tile against the golden model's perfect row
    boundary_single_color_wavelets_per_cycle, boundary_shared_link_wavelets_per_cycle
                                measured on the RTL: a line of one-router dies, 2-stage boundaries
    gemm_bit_exact_with_defects, gemm_cycles_ratio_defective_vs_perfect
                                GEMM and sparse GEMV on ``--maps`` random defect maps at ``--rate``
                                (``--mesh`` logical PEs, ``--scheme`` spares), against the same
                                jobs on the perfect mesh of the same logical shape; the ratio is the
                                worst GEMM's cycles over the perfect mesh's. ``--engine``: the
                                native engine (default) or the wafer's Verilog top (hierarchical)
Writes build/bench/wafer.json by default. Takes a few minutes (one Verilator build per map).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from bench.common import dims, yosys_cells
from golden.route_patterns import edge_to_edge
from golden.routing import MeshRoutes, Port, zero_load_latency
from hdl.link_plan import Wafer, hop_extra_cycles
from hdl.profiles import get_profile
from hdl.repair import DefectMap, RepairError, SpareScheme
from hdl.repair_cell import REPAIR_MODULE, RepairCell
from hdl.router import Router
from sdk.builds.engine_builds import mesh_build
from sdk.builds.paths import BUILD
from sdk.cases import gemm_case, gemv_case, run_cases
from tb.builds import router_mesh_build, run_cocotb, verilog_mesh_build

yield_model = importlib.import_module("bench.yield")

WAFER_ROWS, WAFER_COLS = 750, 994


def _log(msg):
    print(f"[wafer] {msg}", flush=True)


def yield_figures() -> dict:
    best = None
    for text in yield_model.DEFAULT_SCHEMES.split(","):
        scheme = SpareScheme.parse(text)
        over = scheme.overhead_pct(WAFER_COLS)
        if over > yield_model.TARGET_OVERHEAD_PCT:
            continue
        frac = yield_model.exact_repairable(scheme, WAFER_ROWS, WAFER_COLS, yield_model.TARGET_RATE)
        if best is None or frac > best["repairable_fraction"]:
            best = {"spare_scheme": str(scheme), "defect_rate": yield_model.TARGET_RATE,
                    "repairable_fraction": frac, "spare_overhead_pct": round(over, 3),
                    "wafer": f"{WAFER_ROWS}x{WAFER_COLS}"}
    return best


def bypass_latency(run_dir: Path) -> dict:
    """A 1 x 6 fabric row, scheme 1/3, physical tile 1 defective: every W -> E and N -> S latency
    as the golden model predicts from the map (the cocotb test asserts it), and the row's extra
    cycles over the perfect row's golden latency."""
    rows, cols = 1, 6
    wafer = Wafer(DefectMap(rows, cols, SpareScheme(3, 1), frozenset({(0, 1)})).repair())
    extra = hop_extra_cycles(rows, cols, wafer)
    report = run_dir / "bypass_latency.json"
    run_cocotb(verilog_mesh_build(rows, cols, "small", False, wafer), "tb.cocotb_tile_mesh", "wafer_latency",
               profile="small", rows=rows, cols=cols,
               hop_extra=[[r, c, s, n] for (r, c, s), n in extra.items() if n], report=str(report))
    lat = json.loads(report.read_text())["latencies"]
    row = next(x for x in lat if x["entry"][1] == "W")
    prof = get_profile("small")
    color = next(c for c in range(prof.colors) if c != prof.mgmt_color)
    mesh = MeshRoutes(rows, cols, prof.colors)
    edge_to_edge(mesh, color, Port.W)
    [perfect] = zero_load_latency(mesh, (0, 0), Port.W, color).values()
    # the bypassed tile and the unused spare at the east end of segment 1 (its tiles moved east)
    skipped = sum(extra[(0, c, "E")] for c in range(cols)) + extra[(0, 0, "W")]
    return {"bypass_extra_latency_cycles": (row["cycles"] - perfect) / skipped, "bypass_row_cycles": row["cycles"],
            "perfect_row_cycles": perfect, "bypassed_tiles_on_row": skipped}


def boundary_throughput(run_dir: Path) -> dict:
    report = run_dir / "boundary.json"
    run_cocotb(router_mesh_build(1, 4, "small", die=(1, 1), stages=2), "tb.cocotb_router_mesh", "fabric_figures",
               profile="small", cols=4, die=[1, 1], stages=2, stream=2000, report=str(report))
    fig = json.loads(report.read_text())
    return {"boundary_single_color_wavelets_per_cycle": fig["single_color_wavelets_per_cycle"],
            "boundary_shared_link_wavelets_per_cycle": fig["shared_link_wavelets_per_cycle"],
            "boundary_stages": 2}


def gemm_on_maps(rows, cols, scheme: SpareScheme, rate: float, nmaps: int, engine: str) -> dict:
    def cases():
        return [gemm_case(rows, cols, 4 * rows, 64, 4 * cols, "f16", seed=51),
                gemm_case(rows, cols, 2 * rows + 3, 40, 2 * cols + 1, "f32", seed=52),
                gemv_case(rows, cols, 3 * rows, 96, 0.5, seed=53)]

    keys = ("name", "cycles", "bit_exact", "mismatches")
    t0 = time.monotonic()
    perfect = [{k: r[k] for k in keys} for r in run_cases(cases(), engine=engine,
                                                             build=mesh_build(rows, cols, "small", engine=engine),
                                                             run_name="wafer-bench-perfect")]
    _log(f"perfect {rows}x{cols}: {[(r['name'], r['cycles'], r['bit_exact']) for r in perfect]} "
         f"({time.monotonic() - t0:.0f} s)")
    maps = []
    seed = 0
    while len(maps) < nmaps and seed < 1000:
        seed += 1
        dm = DefectMap.random(rows, cols, scheme, rate, seed)
        if not dm.defects:
            continue
        try:
            wafer = Wafer(dm.repair())
        except RepairError:
            continue
        t0 = time.monotonic()
        build = mesh_build(rows, cols, "small", engine=engine, wafer=wafer)
        got = [{k: r[k] for k in keys} for r in run_cases(cases(), engine=engine, build=build,
                                                         run_name=f"wafer-bench-{seed}")]
        maps.append({"seed": seed, "defects": sorted(dm.defects), "jobs": got})
        _log(f"map seed {seed}, defects {sorted(dm.defects)}: {[(r['name'], r['cycles'], r['bit_exact']) for r in got]}"
             f" ({time.monotonic() - t0:.0f} s)")
    ratios = [m["jobs"][i]["cycles"] / perfect[i]["cycles"] for m in maps for i in range(len(perfect))
              if perfect[i]["name"].startswith("gemm")]
    physical = rows * scheme.physical_cols(cols)
    return {"gemm_bit_exact_with_defects": all(j["bit_exact"] for m in maps for j in m["jobs"]),
            "gemm_cycles_ratio_defective_vs_perfect": max(ratios),
            "gemm_mesh": f"{rows}x{cols}", "gemm_spare_scheme": str(scheme), "gemm_defect_rate": rate,
            "gemm_engine": engine,
            "gemm_physical_pes": physical,
            "gemm_mean_defective_pct": 100 * sum(len(m["defects"]) for m in maps) / (len(maps) * physical),
            "gemm_perfect": perfect, "gemm_maps": maps}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=BUILD / "bench" / "wafer.json")
    ap.add_argument("--mesh", default="8x8", help="logical PEs of the GEMM meshes")
    ap.add_argument("--scheme", default="1/4", help="spare scheme of the GEMM meshes (K/S)")
    ap.add_argument("--rate", type=float, default=0.01, help="defect rate of the GEMM maps (per physical PE)")
    ap.add_argument("--maps", type=int, default=3, help="random defect maps to run GEMM on")
    ap.add_argument("--engine", default="native", choices=("native", "hierarchical"), help="engine of the GEMM runs")
    args = ap.parse_args(argv)
    rows, cols = dims(args.mesh, 2, "--mesh")
    try:
        scheme = SpareScheme.parse(args.scheme)
        DefectMap.random(rows, cols, scheme, args.rate, 1)
    except RepairError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.maps < 1:
        print("error: --maps must be at least 1", file=sys.stderr)
        return 2
    run_dir = BUILD / "bench" / "wafer"
    run_dir.mkdir(parents=True, exist_ok=True)
    fig = {}
    fig.update(yield_figures())
    _log(f"yield: {fig}")
    k = SpareScheme.parse(fig["spare_scheme"]).spares
    colors = get_profile("small").colors
    by_k = {}
    for spares in (1, 2, 3):
        by_k[spares] = yosys_cells(RepairCell(colors, spares), REPAIR_MODULE)["cells"]
    fig["repair_cells_per_tile"] = by_k[k]
    fig["repair_cells_per_tile_by_spares"] = by_k
    fig["router_cells"] = yosys_cells(Router("small"), "router")["cells"]
    _log(f"repair cell (small, K = 1..3): {by_k} generic cells; the small router: {fig['router_cells']}")
    fig.update(bypass_latency(run_dir))
    _log(f"bypass: {fig['bypass_extra_latency_cycles']} cycles per bypassed tile")
    fig.update(boundary_throughput(run_dir))
    _log(f"boundary: single {fig['boundary_single_color_wavelets_per_cycle']}, "
         f"shared {fig['boundary_shared_link_wavelets_per_cycle']} wavelets/cycle")
    fig.update(gemm_on_maps(rows, cols, scheme, args.rate, args.maps, args.engine))
    _log(f"GEMM on defective meshes: bit-exact {fig['gemm_bit_exact_with_defects']}, "
         f"cycles ratio {fig['gemm_cycles_ratio_defective_vs_perfect']:.4f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(fig, indent=2))
    for key in ("spare_scheme", "defect_rate", "repairable_fraction", "spare_overhead_pct", "repair_cells_per_tile",
                "bypass_extra_latency_cycles", "boundary_single_color_wavelets_per_cycle",
                "boundary_shared_link_wavelets_per_cycle", "gemm_bit_exact_with_defects",
                "gemm_cycles_ratio_defective_vs_perfect"):
        print(f"{key:45} {fig[key]}")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
