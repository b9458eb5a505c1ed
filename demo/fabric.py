"""`make sim-fabric`: multicast traffic through a mesh of routers, checked against the golden model.

A host program on the SDK: a fabric-only mesh (router + management loader tiles, no PE) on the
native Verilator engine; five multicast route patterns on five colors (row and column broadcast
edge to edge, a tree from the north edge, a reverse row broadcast, straight across:
golden/route_patterns.py ``edge_patterns``) loaded through the west edge like any layout; tagged
wavelets from every source with random idles on the input links and random per-color backpressure
on the output links; every edge exit checked against the golden routing model (nothing lost,
nothing duplicated, nothing extra, order kept per source and color); a summary table and a JSON
report; with --waves an FST waveform.

Usage:
    python -m demo.fabric [--rows 4] [--cols 4] [--profile small] [--wavelets 20000] [--seed 1]
                          [--json build/sim/fabric_report.json] [--waves]
Make variables ROWS, COLS, PROFILE, WAVELETS, SEED, WAVES map onto these options.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from golden.route_patterns import edge_patterns
from golden.routing import simulate
from hdl.mesh import EdgeLink
from sdk import Layout, Runtime, SdkError, routes
from sdk.builds.paths import BUILD

IDLE, STALL = 0.2, 0.2


def traffic(sources, total):
    """{(link, color): [payload]}: sources take turns; payload = source id << 24 | sequence << 2
    (no switch command), so every wavelet at an exit is distinct and its flow's order checkable."""
    out, seq = defaultdict(list), Counter()
    for n in range(total):
        i = n % len(sources)
        out[sources[i]].append((i << 24 | seq[i] << 2) & 0xFFFFFFFF)
        seq[i] += 1
    return out


def check(golden, rows, cols, received) -> int:
    """Every edge exit's wavelets against the golden routing model's result; the wavelets checked."""
    problems, checked = [], 0
    exits = {EdgeLink.at(pe, port, rows, cols): ds for (pe, port), ds in golden.outputs.items() if port.name != "RAMP"}
    for link in sorted(set(exits) | set(received), key=str):
        want = [(d.color, d.payload, d.ctrl) for d in exits.get(link, [])]
        got = [tuple(w) for w in received.get(link, [])]
        if Counter(want) != Counter(got):
            problems.append(f"{link}: {len(got)} wavelets, the golden model {len(want)} "
                            f"(missing {list((Counter(want) - Counter(got)).elements())[:3]}, "
                            f"extra {list((Counter(got) - Counter(want)).elements())[:3]})")
            continue
        for flow in {(p >> 24, c) for c, p, _ in want}:
            if [w for w in got if (w[1] >> 24, w[0]) == flow] != [w for w in want if (w[1] >> 24, w[0]) == flow]:
                problems.append(f"{link}: flow {flow} out of order")
        checked += len(got)
    if problems:
        raise AssertionError("fabric differs from the golden model:\n  " + "\n  ".join(problems[:10]))
    return checked


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m demo.fabric", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--profile", default="small")
    ap.add_argument("--wavelets", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, default=BUILD / "sim" / "fabric_report.json")
    ap.add_argument("--waves", action="store_true")
    args = ap.parse_args(argv)
    try:
        lay = Layout(args.rows, args.cols, args.profile)
        prof = lay.profile
        if args.wavelets < 1:
            raise SdkError(f"--wavelets must be positive, got {args.wavelets}")
        mesh, sources = edge_patterns(args.rows, args.cols, prof.colors, avoid=(prof.mgmt_color,))
        for color in sorted({c for _, c in sources}):
            table = {pe: t[color] for pe, t in mesh.routes.items() if color in t}
            lay.route(lay.color(f"c{color}", color), routes.custom(table, f"pattern on color {color}"))
        lay.build()
    except SdkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    flows = traffic(sources, args.wavelets)
    print(f"[tessera] fabric mesh {args.rows}x{args.cols}, profile {prof.name} ({prof.colors} colors): "
          f"{len(sources)} flows on {len({c for _, c in sources})} colors, {args.wavelets} wavelets", flush=True)
    t0 = time.monotonic()
    with Runtime(lay, engine="native", core=False, noise=(IDLE, STALL), seed=args.seed, waves=args.waves,
                 console=True, run_name="demo-fabric" + ("-waves" if args.waves else "")) as rt:
        injections = defaultdict(list)
        for ((pe, port), color), payloads in flows.items():
            rt.send(EdgeLink.at(pe, port, args.rows, args.cols), color, payloads)
            injections[(pe, port)] += [(color, p, 0) for p in payloads]
        res = rt.run("idle", progress=2000)
        received = rt.receive()
        waves = getattr(rt.engine, "waves_path", None)
    wall = time.monotonic() - t0
    checked = check(simulate(mesh, injections), args.rows, args.cols, received)
    rep = {"rows": args.rows, "cols": args.cols, "profile": prof.name, "colors_used": len({c for _, c in sources}),
           "flows": len(sources), "wavelets_injected": args.wavelets, "deliveries_checked": checked,
           "exits": len(received), "cycles": res.cycles, "delivered_per_cycle": round(checked / max(1, res.cycles), 3),
           "idle_prob": IDLE, "stall_prob": STALL, "seed": args.seed, "scoreboard": "pass",
           "sim_wall_seconds": round(wall, 2),
           "router_cycles_per_second": round(res.cycles * args.rows * args.cols / wall)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rep, indent=2))
    rows = [
        ("mesh", f"{args.rows} x {args.cols} tiles (router + loader, no PE)"),
        ("profile", f"{prof.name} ({prof.colors} colors, FIFO depth {prof.fifo_depth})"),
        ("route patterns", f"{rep['colors_used']} colors, {rep['flows']} flows (row/column broadcast, tree, "
                           "edge to edge), loaded through the west edge"),
        ("wavelets injected", f"{rep['wavelets_injected']}"),
        ("deliveries checked", f"{rep['deliveries_checked']} at {rep['exits']} edge exits"),
        ("cycles", f"{rep['cycles']} ({rep['delivered_per_cycle']:.2f} deliveries/cycle)"),
        ("stimulus", f"idle {IDLE:.0%}, per-color stall {STALL:.0%}, seed {args.seed}"),
        ("golden model", "PASS: no loss, no duplication, order kept per flow"),
        ("simulation speed", f"{rep['router_cycles_per_second']} tile-cycles/s (wall, including the load)"),
        ("report", str(args.json)),
    ]
    if waves:
        rows.append(("waveform", str(waves)))
    width = max(len(k) for k, _ in rows)
    print("\n" + "-" * 72)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print("-" * 72)
    return 0


if __name__ == "__main__":
    sys.exit(main())
