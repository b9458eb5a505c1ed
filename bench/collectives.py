"""Collectives on the native Verilator mesh: cycles, bytes, busiest link and link efficiency of each.

The collectives are sdk/collectives.py (docs/kernels.md "Collectives").

For every collective (broadcast, scatter, gather, reduce, all-reduce) and mesh of ``--meshes``
(default 1x8, 8x1, 4x4), runs it on a long vector of f32 (``--n`` words per PE; scatter and gather
move one block per PE, of ``--n`` words or fewer so that the root's P blocks fit its SRAM), checks
the result bit for bit against the golden order, and records:

    cycles              from the launch's first management wavelet to the mesh being idle
    bytes               the data the collective moves (payload bytes: n words, or P blocks)
    busiest_link        data wavelets on the busiest directed link of the algorithm (RAMP links
                        between routers and PEs included; phases run one after the other add up)
    link_efficiency     busiest_link / cycles: how close the run comes to the link bound of one
                        wavelet per cycle per link on its busiest link
    lower_bound_cycles  the bound for any algorithm (n for broadcast and reduce, (P - 1) n for
                        scatter and gather, 2 n (P - 1) / P for all-reduce: every PE takes in its
                        share of the partial sums and of the result over its RAMP link)
    efficiency_vs_lower_bound

Usage:
    python -m bench.collectives [--json build/bench/collectives.json] [--meshes 1x8,8x1,4x4] [--n 768]
                                [--engine native]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from sdk import Runtime, SdkError
from sdk.builds.paths import BUILD
from sdk.collectives import OPS, standalone


def measure(rows, cols, n, engine="native", ops=OPS) -> list:
    out, rt = [], None
    try:
        for op in ops:
            size = n
            if op in ("scatter", "gather"):  # the root holds every block: keep them within its SRAM
                size = min(n, (8 * 1024 - 256) // (4 * (rows * cols + 1)))
            lay, coll = standalone(op, rows, cols, size)
            rng = np.random.default_rng(1)
            data = {pe: rng.standard_normal(coll.input_size(pe)).astype(np.float32) for pe in coll.input_pes()}
            if rt is None:
                rt = Runtime(lay, engine=engine, run_name=f"bench-collectives-{rows}x{cols}")
            else:
                rt.load(lay)
            t0 = time.monotonic()
            got, cycles = coll.run(rt, data)
            want = coll.golden(data)
            exact = all(np.array_equal(got[pe].view(np.uint32), want[pe].view(np.uint32)) for pe in want)
            t = coll.traffic()
            rec = {"collective": op, "mesh": f"{rows}x{cols}", "pes": coll.P, "n": size, "cycles": cycles,
                   "bytes": t["bytes"], "busiest_link": t["busiest_link"],
                   "link_efficiency": round(t["busiest_link"] / cycles, 4) if cycles else None,
                   "lower_bound_cycles": round(t["lower_bound_cycles"], 1),
                   "efficiency_vs_lower_bound": round(t["lower_bound_cycles"] / cycles, 4) if cycles else None,
                   "bit_exact": exact, "wall_seconds": round(time.monotonic() - t0, 2)}
            print(f"[collectives] {rec['mesh']:>5} {op:9} {cycles:>7} cycles  link efficiency "
                  f"{rec['link_efficiency']}  vs any algorithm {rec['efficiency_vs_lower_bound']}  "
                  f"{'bit-exact' if exact else 'MISMATCH'}", flush=True)
            out.append(rec)
    finally:
        if rt is not None:
            rt.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=BUILD / "bench" / "collectives.json")
    ap.add_argument("--meshes", default="1x8,8x1,4x4")
    ap.add_argument("--n", type=int, default=768, help="f32 words per PE (scatter/gather: per block)")
    ap.add_argument("--engine", default="native")
    args = ap.parse_args(argv)
    try:
        meshes = [tuple(int(v) for v in m.lower().split("x")) for m in args.meshes.split(",") if m.strip()]
        if not meshes or any(len(m) != 2 or min(m) < 1 for m in meshes):
            raise ValueError(f"--meshes {args.meshes!r}: expected RxC[,RxC...]")
        standalone("allreduce", *meshes[0], args.n)  # bad sizes fail here, before any simulation
    except (SdkError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    records = []
    for rows, cols in meshes:
        records += measure(rows, cols, args.n, args.engine)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(records, indent=2))
    print(f"wrote {args.json}")
    return 0 if all(r["bit_exact"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
