"""GEMM utilisation and sparse-GEMV cycles on the Verilator mesh, bit-exact against golden (docs/kernels.md).

For the mesh given, runs the f16 -> f32 GEMM at each size of ``--sizes`` (square M = K = N) plus
``--shape``, optionally the f32 GEMM at ``--shape``, and the sparse GEMV at ``--density`` and dense
(every x nonzero, the same kernel), all checked bit for bit against golden/matmul.py. Writes a
list of records (JSON) and PNG plots next to it: MAC utilisation against matrix size, and for the
largest GEMM the per-PE pictures of sdk/plots.py from every tile's activity counters (read from the
native mesh, docs/observability.md): vector-busy fraction, SRAM row accesses per cycle, MACs,
instructions, and wavelets per link.

Records: rows, cols, profile, M, K, N, dtype, cycles, utilization, bit_exact, max_abs_err_f64, ...
and for GEMV: density, nonzeros, cycles, dense_cycles, ratio.

Usage:
    python -m bench.gemm [--json build/bench/gemm.json] [--mesh 8x8] [--shape 256x256x256]
                         [--sizes 64,128] [--density 0.1] [--f32] [--profile small] [--no-plots]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.common import dims, require_extra
from sdk.builds.paths import BUILD
from sdk.cases import format_table, gemm_case, gemv_case, run_cases
from sdk.plots import activity_maps
from sdk.records import SdkError


def plots(records, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gemm = sorted((r for r in records if r["kind"] == "gemm" and r["dtype"] == "f16" and r["M"] == r["K"] == r["N"]),
                  key=lambda r: r["M"])
    out = []
    if gemm:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([r["M"] for r in gemm], [100 * r["utilization"] for r in gemm], "o-")
        ax.axhline(85, color="grey", ls="--", lw=1, label="target 85 %")
        ax.set_xlabel("M = K = N")
        ax.set_ylabel("MAC utilisation (%)")
        ax.set_title(f"f16->f32 GEMM on {gemm[0]['rows']}x{gemm[0]['cols']} ({gemm[0]['profile']})")
        ax.set_ylim(0, 100)
        ax.legend()
        fig.tight_layout()
        p = path.with_name(path.stem + "_utilization.png")
        fig.savefig(p, dpi=120)
        out.append(p)
    big = max((r for r in records if r["kind"] == "gemm" and r.activity is not None),
              key=lambda r: r["M"] * r["K"] * r["N"], default=None)
    if big:
        # per-PE pictures from the tiles' own counters (native mesh): vector busy, SRAM, MACs, links
        tag = f"{path.stem}_{big['M']}x{big['K']}x{big['N']}_{big['dtype']}"
        out += list(activity_maps(big.activity, path.parent, tag).values())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=BUILD / "bench" / "gemm.json")
    ap.add_argument("--mesh", default="8x8")
    ap.add_argument("--shape", default="256x256x256", help="MxKxN of the main GEMM")
    ap.add_argument("--sizes", default="", help="extra square sizes for the utilisation curve, e.g. 64,128")
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--f32", action="store_true", help="also run the f32 GEMM at --shape")
    ap.add_argument("--profile", default="small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args(argv)
    rows, cols = dims(args.mesh, 2, "mesh")
    m, k, n = dims(args.shape, 3, "shape")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        cases = [gemm_case(rows, cols, s, s, s, "f16", args.profile, args.seed) for s in sizes]
        cases.append(gemm_case(rows, cols, m, k, n, "f16", args.profile, args.seed))
        if args.f32:
            cases.append(gemm_case(rows, cols, m, k, n, "f32", args.profile, args.seed))
        cases.append(gemv_case(rows, cols, m, k, args.density, args.profile, args.seed))
        cases.append(gemv_case(rows, cols, m, k, 1.0, args.profile, args.seed, name="gemv-dense"))
    except (SdkError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.no_plots:
        require_extra("matplotlib", "bench")  # before minutes of simulation, not after
    print(f"[gemm] {rows}x{cols} {args.profile}: {len(cases)} kernels (Verilator build on first use; "
          "progress every 10,000 cycles)", flush=True)
    t0 = time.monotonic()
    recs = run_cases(cases, progress=10_000, counters=True, run_name=f"bench-{m}x{k}x{n}")
    dense = next(r for r in recs if r["name"] == "gemv-dense")
    for r in recs:
        if r["kind"] == "gemv":
            r["dense_cycles"] = dense["cycles"]
            r["ratio_to_dense"] = round(r["cycles"] / dense["cycles"], 4)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([r.to_dict() for r in recs], indent=2))
    print()
    print(format_table(recs))
    sparse = next(r for r in recs if r["kind"] == "gemv" and r["name"] != "gemv-dense")
    print(f"\nsparse GEMV at density {sparse['density']}: {sparse['cycles']} cycles = "
          f"{100 * sparse['ratio_to_dense']:.1f} % of the dense {dense['cycles']} cycles")
    if not args.no_plots:
        for p in plots(recs, args.json):
            print(f"wrote {p}")
    print(f"wrote {args.json} ({time.monotonic() - t0:.0f} s)")
    return 0 if all(r["bit_exact"] for r in recs) else 1


if __name__ == "__main__":
    sys.exit(main())
