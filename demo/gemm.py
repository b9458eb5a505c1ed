"""`make sim`: a GEMM and a sparse GEMV on a Tessera mesh, bit-exact against the golden models.

Builds (once, cached) the R x C PE mesh on Verilator, then runs two SDK kernels through the mesh edge
on one Runtime (sdk/cases.py): C = A.B (M x K x N, f16 inputs with f32 accumulation, or
f32) and y = A.x with x of the given density. Prints progress while they run, a summary table (mesh, profile, shapes,
cycles, MAC utilisation, bit-exact, max error against float64) and writes a JSON report; with
--waves also an FST waveform.

Every tile's activity counters are read over each run (docs/observability.md): per-PE heat maps of
vector-busy fraction, SRAM traffic, MACs and instructions and a per-link traffic map (PNG, next to
the report), the energy of each kernel (sdk/energy.py: joules, pJ per useful MAC, GFLOPS/W, a
breakdown by component and its stacked-bar PNG; --energy FILE overrides the energy table) and the
power of a wafer-sized mesh running the GEMM. With --trace the GEMM's first --trace-cycles cycles
are recorded as a Perfetto timeline (every PE, every link).

On a wafer (docs/wafer.md): --spares K/S with --defects FILE or --defect-rate P [--defect-seed N]
repairs a defective physical mesh, --die RxC [--boundary-stages L] adds die boundaries; the
kernels run unchanged on the logical R x C mesh.

With --ranks N (`make sim RANKS=N`) the native mesh runs in N bands of rows on N MPI ranks started
by mpiexec (docs/mesh.md): the same cycles and bits as one process.

Usage:
    python -m demo.gemm [--rows 4] [--cols 4] [--m 64] [--k 64] [--n 64] [--dtype f16]
                        [--profile small] [--density 0.1] [--seed 1] [--waves] [--json PATH]
                        [--trace] [--trace-cycles 4000] [--energy FILE]
                        [--spares K/S] [--defects FILE | --defect-rate P] [--die RxC] [--boundary-stages L]
                        [--ranks N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hdl.wafer_mesh import add_wafer_arguments, wafer_from_arguments
from sdk.builds.mpi_ranks import MpiInstall
from sdk.builds.native_mesh import check_ranks
from sdk.builds.paths import BUILD
from sdk.cases import format_table, gemm_case, gemv_case, run_cases
from sdk.energy import EnergyModel
from sdk.errors import SdkError
from sdk.observe import observe
from sdk.trace import TraceSpec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("rows", 4), ("cols", 4), ("m", 64), ("k", 64), ("n", 64), ("seed", 1)):
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--dtype", default="f16", help="f16 (f32 accumulation) or f32")
    ap.add_argument("--profile", default="small")
    ap.add_argument("--density", type=float, default=0.1, help="fraction of x's elements that are nonzero")
    ap.add_argument("--waves", action="store_true")
    ap.add_argument("--json", default=str(BUILD / "sim" / "gemm_report.json"))
    ap.add_argument("--trace", action="store_true", help="record the GEMM's timeline (Perfetto JSON)")
    ap.add_argument("--trace-cycles", type=int, default=4000, help="cycles of the GEMM the trace covers")
    ap.add_argument("--energy", default=None, help="JSON file overriding the energy table (sdk/energy_defaults.json)")
    ap.add_argument("--ranks", type=int, default=1,
                    help="run the native mesh in bands of rows over this many MPI ranks (docs/mesh.md)")
    add_wafer_arguments(ap)
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) and 2
    try:
        cases = [gemm_case(args.rows, args.cols, args.m, args.k, args.n, args.dtype, args.profile, args.seed),
                 gemv_case(args.rows, args.cols, args.m, args.k, args.density, args.profile, args.seed)]
        energy = EnergyModel.load(args.energy)
        try:
            wafer = wafer_from_arguments(args, args.rows, args.cols)
        except ValueError as e:  # hdl's RepairError or WaferError (hdl does not import sdk)
            raise SdkError(str(e)) from None
        trace = None
        if args.trace and args.waves:
            raise SdkError("--trace needs the native engine and --waves the flat one: choose one")
        if args.ranks != 1:
            check_ranks(args.ranks, args.rows)
            if args.waves or args.trace:
                raise SdkError("--ranks runs the native engine without waves or traces: choose one")
            MpiInstall.find()
        if args.trace:
            trace = TraceSpec(pes="all", links="all", window=(0, args.trace_cycles), max_events=1_000_000)
            trace.check(args.rows, args.cols)
    except (SdkError, OSError) as e:  # OSError: the energy table's file
        print(f"make sim: error: {e}", file=sys.stderr)
        return 2
    g = cases[0].plan
    print(f"make sim: {args.rows}x{args.cols} mesh ({args.profile}); GEMM {args.m}x{args.k}x{args.n} {args.dtype} "
          f"(tiles {g.mt}x{g.nt}, {g.panels} panels of {g.kp}); sparse GEMV {args.m}x{args.k} at density "
          f"{args.density}", flush=True)
    if wafer is not None:
        pcols = wafer.physical_cols(args.cols)
        defects = "" if wafer.repair is None else f"spares {wafer.scheme}, {pcols} physical columns"
        dies = "" if wafer.die is None else f"dies {wafer.die[0]}x{wafer.die[1]}, {wafer.stages}-stage boundaries"
        print(f"make sim: a wafer: {'; '.join(x for x in (defects, dies) if x)}", flush=True)
    if args.ranks > 1:
        print(f"make sim: the mesh in {args.ranks} bands of rows on {args.ranks} MPI ranks (mpiexec)", flush=True)
    print("make sim: building or reusing the Verilator build, then running (progress every 2,000 cycles) ...",
          flush=True)
    t0 = time.monotonic()
    recs = run_cases(cases, progress=2000, counters=True, trace=trace, waves=args.waves, console=True,
                     run_name="make-sim" + ("-waves" if args.waves else ""), wafer=wafer, ranks=args.ranks)
    wall = time.monotonic() - t0
    print()
    print(format_table(recs))
    path = Path(args.json)
    seen = observe(recs, path.parent, energy, prefix="sim_")
    report = {"records": [r.to_dict() for r in recs], "wall_seconds": round(wall, 1), "pictures": seen["pictures"],
              "wafer_power_projection": seen["wafer"], "trace": seen["trace"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"\nreport: {path}")
    if args.waves:
        print(f"waveform: {recs[0]['waves']}")
    ok = all(r["bit_exact"] and r["f64_bound_ok"] for r in recs)
    print("make sim: PASS (bit-exact against the golden models)" if ok else "make sim: FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
