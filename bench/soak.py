"""Fabric soak: a million random multicast wavelets through an 8x8 mesh, none lost, duplicated or reordered.

A fabric-only mesh (router + management loader tiles) on the native engine, loaded through its
west edge like any layout, with five multicast route patterns on five colors (golden/route_patterns.py
``edge_patterns``: row and column broadcasts edge to edge, a tree from the north edge, a reverse
row broadcast, straight across). Every source sends in random order with random idles on every
input link and random per-color backpressure on every output link, in batches (each batch one
``run``). Every edge exit of every batch is checked against the golden routing model by the fabric
scoreboard (tb/scoreboard.py: the multiset per exit — nothing lost, duplicated or extra — and the
order per source and color), and the routers' drop counters and error flags must stay 0.

Writes JSON: wavelets injected, deliveries checked, cycles, batches, lost / duplicated / reordered
(0 when the scoreboard passes; the run stops at the first mismatch), wall time.

Usage:
    python -m bench.soak [--json build/bench/soak.json] [--mesh 8x8] [--wavelets 1000000]
                         [--batch 100000] [--idle 0.2] [--stall 0.2] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import dims
from golden.route_patterns import edge_patterns
from golden.routing import FabricState, simulate
from hdl.mesh import EdgeLink
from hdl.profiles import get_profile
from sdk import Layout, Runtime, routes
from sdk.builds.paths import BUILD
from tb.scoreboard import ScoreboardError, compare_fabric


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=BUILD / "bench" / "soak.json")
    ap.add_argument("--mesh", default="8x8")
    ap.add_argument("--wavelets", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--idle", type=float, default=0.2)
    ap.add_argument("--stall", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rows, cols = dims(args.mesh, 2, "mesh")
    if args.wavelets < 1 or args.batch < 1 or not (0 <= args.idle < 1 and 0 <= args.stall < 1):
        print("error: --wavelets and --batch must be positive, --idle and --stall in [0, 1)", file=sys.stderr)
        return 2
    prof = get_profile("small")
    lay = Layout(rows, cols, prof)
    mesh, sources = edge_patterns(rows, cols, prof.colors, avoid=(prof.mgmt_color,))
    for color in sorted({c for _, c in sources}):
        lay.route(lay.color(f"c{color}", color),
                  routes.custom({pe: t[color] for pe, t in mesh.routes.items() if color in t}, f"color {color}"))
    rng = random.Random(args.seed)
    seq = Counter()
    state = FabricState()
    rec = {"mesh": f"{rows}x{cols}", "wavelets_injected": 0, "deliveries_checked": 0, "cycles": 0, "batches": 0,
           "idle_prob": args.idle, "stall_prob": args.stall, "seed": args.seed, "lost": 0, "duplicated": 0,
           "reordered": 0, "scoreboard": "pass"}
    t0 = time.monotonic()
    print(f"[soak] {rows}x{cols} fabric mesh, {len(sources)} multicast flows on 5 colors, {args.wavelets:,} wavelets "
          f"in batches of {args.batch:,}; idle {args.idle:.0%}, stall {args.stall:.0%}", flush=True)
    with Runtime(lay, engine="native", core=False, noise=(args.idle, args.stall), seed=args.seed,
                 run_name="bench-soak") as rt:
        left = args.wavelets
        while left:
            n = min(args.batch, left)
            injections = defaultdict(list)
            per_link = defaultdict(list)
            for _ in range(n):  # sources in random order; payload = source << 24 | sequence << 2 (no switch command)
                i = rng.randrange(len(sources))
                (pe, port), color = sources[i]
                payload = (i << 24 | (seq[i] & 0x3FFFFF) << 2) & 0xFFFFFFFF
                seq[i] += 1
                injections[(pe, port)].append((color, payload, 0))
                per_link[((pe, port), color)].append(payload)
            for ((pe, port), color), payloads in per_link.items():
                rt.send(EdgeLink.at(pe, port, rows, cols), color, payloads)
            res = rt.run("idle", max_idle=50_000)
            received = rt.receive()
            observed = {}
            for link, ws in received.items():
                pe, port = link.pe_port(rows, cols)
                observed[(pe, port)] = [(w.color, w.payload, w.ctrl) for w in ws]
            golden = simulate(mesh, injections, state=state)
            exits = {ex: ds for ex, ds in golden.outputs.items() if ex[1].name != "RAMP"}
            golden.outputs = defaultdict(list, exits)
            try:
                summary = compare_fabric(golden, observed)
            except ScoreboardError as e:
                text = str(e)
                rec.update(scoreboard="FAIL", first_mismatch=text[:2000],
                           lost=text.count("missing"), duplicated=text.count("extra"), reordered=text.count("order"))
                print(f"[soak] batch {rec['batches'] + 1}: {text[:600]}", flush=True)
                break
            if not res.status.ok:
                rec.update(scoreboard="FAIL", first_mismatch=f"router errors: {res.status.faults}")
                break
            rec["wavelets_injected"] += n
            rec["deliveries_checked"] += summary["wavelets_checked"]
            rec["cycles"] += res.cycles
            rec["batches"] += 1
            left -= n
            print(f"[soak] batch {rec['batches']}: {rec['wavelets_injected']:,} wavelets, "
                  f"{rec['deliveries_checked']:,} deliveries checked, {rec['cycles']:,} cycles, "
                  f"{time.monotonic() - t0:.0f} s", flush=True)
    rec["wall_seconds"] = round(time.monotonic() - t0, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rec, indent=2))
    print(f"[soak] {rec['scoreboard']}: {rec['wavelets_injected']:,} wavelets, {rec['deliveries_checked']:,} "
          f"deliveries checked, lost {rec['lost']}, duplicated {rec['duplicated']}, reordered {rec['reordered']}, "
          f"{rec['cycles']:,} cycles in {rec['wall_seconds']} s; wrote {args.json}")
    return 0 if rec["scoreboard"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
