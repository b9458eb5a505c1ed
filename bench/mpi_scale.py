"""MPI scale figures: the native mesh on 1, 2 and 4 MPI ranks (and on 2 threads) at 64x64 and 256x256.

Each run is tb/cocotb_tile_mesh.py ``clock_run`` (W -> E routes loaded through the management path,
then every row streaming across the mesh) on a native-mesh build; with ranks > 1 the simulator is
launched by ``mpiexec`` (sdk/builds/mpi_ranks.py: rank 0 the simulator, ranks 1..N-1 the worker
program), and each rank's compute and exchange seconds and its message and byte counts come back
through TESSERA_MPI_STATS. ``bit_identical`` compares the run's digest (every wavelet that left the
mesh, in order, and the rows' status) with the 1-rank run of the same mesh. 4 ranks on a 2-core
machine are oversubscribed: a correctness figure, not a speed one.

From the measured cost of a tile-cycle and of an exchange, it projects the cycles per second of
the 750 x 994 mesh on 8, 32 and 128 nodes of 16 cores, and the wall time of a whole-wafer GEMM at
that rate (the assumptions are in the JSON and in docs/mesh.md).

Writes a JSON list of records, one per (mesh, ranks or threads):
    {mesh, rows, cols, ranks, threads, cycles, pe_cycles_per_second, messages_per_cycle,
     bytes_per_cycle, exchange_fraction, bit_identical, per_rank}
then {"comparison": ...} (2 ranks against 2 threads and against 1 rank) and {"projection": ...}.

Usage:
    python -m bench.mpi_scale [--json build/bench/mpi_scale.json] [--sizes 64x64,256x256]
        [--ranks 1,2,4] [--cycles 64x64:1000,256x256:400] [--no-threads]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.mesh_scale import parse_sizes
from hdl.mesh import MeshShapeError
from sdk.builds.engine_builds import mesh_build
from sdk.builds.mpi_ranks import MpiInstall, MpiMissing
from sdk.builds.native_mesh import check_ranks
from sdk.builds.paths import BUILD
from sdk.cases import gemm_case, run_cases

REPO = Path(__file__).resolve().parent.parent

WAFER_ROWS, WAFER_COLS = 750, 994
CORES_PER_NODE = 16
# The network a projection assumes: one message's latency and a link's bandwidth (HDR InfiniBand
# class), and the per-message software cost measured here on shared memory added on top.
NET_LATENCY_S = 2e-6
NET_BYTES_PER_S = 12.5e9


def run(rows: int, cols: int, ranks: int, threads: int, cycles: int) -> dict:
    build = mesh_build(rows, cols, "small", True, engine="native", threads=threads, ranks=ranks)
    tag = f"r{ranks}t{threads}"
    print(f"[mpi_scale] {rows}x{cols}, {ranks} rank(s), {threads} thread(s): building or reusing ...", flush=True)
    build.build()
    report = BUILD / "bench" / f"mpi_scale_{rows}x{cols}_{tag}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    stats_path = Path(tempfile.mkdtemp(prefix="tessera-mpi-")) / "stats.json"
    os.environ["TESSERA_MPI_STATS"] = str(stats_path)
    try:
        print(f"[mpi_scale]   running {cycles} cycles (log: build/runs/{build.name}-{build.key}/mpi_scale_{tag})",
              flush=True)
        t0 = time.monotonic()
        build.run("tb.cocotb_tile_mesh", testcase="clock_run", run_name=f"mpi_scale_{tag}",
                  config={"profile": "small", "rows": rows, "cols": cols, "cycles": cycles, "report": str(report)})
        wall = time.monotonic() - t0
    finally:
        os.environ.pop("TESSERA_MPI_STATS", None)
    sim = json.loads(report.read_text())
    rec = {"mesh": f"{rows}x{cols}", "rows": rows, "cols": cols, "ranks": ranks, "threads": threads,
           "cycles": sim["cycles"], "pe_cycles_per_second": round(sim["cycles"] * rows * cols / sim["wall_seconds"]),
           "digest": sim["digest"], "run_wall_seconds": round(wall, 1),
           "messages_per_cycle": 0.0, "bytes_per_cycle": 0.0, "exchange_fraction": 0.0, "per_rank": None}
    if ranks > 1 and stats_path.exists():
        st = json.loads(stats_path.read_text())
        per = st["per_rank"]
        ncyc = max(p["cycles"] for p in per)
        rec["messages_per_cycle"] = round(sum(p["messages"] for p in per) / ncyc, 2)
        rec["bytes_per_cycle"] = round(sum(p["bytes"] for p in per) / ncyc, 1)
        # communication time (posting, waiting for the neighbours and for rank 0) over the run's
        # time, the mean over ranks
        rec["exchange_fraction"] = round(sum(p["exchange_seconds"] / max(p["wall_seconds"], 1e-9) for p in per)
                                         / len(per), 4)
        rec["per_rank"] = per
    print(f"[mpi_scale]   {rec['pe_cycles_per_second']:,} PE-cycles/s; {rec['messages_per_cycle']} messages and "
          f"{rec['bytes_per_cycle']:,.0f} bytes a cycle; exchange {100 * rec['exchange_fraction']:.1f} %", flush=True)
    return rec


def gemm_cycles_whole_wafer() -> dict:
    """The cycles of a GEMM filling the 750 x 994 wafer: its MACs over the wafer's peak MACs a cycle
    at the MAC utilisation of an f16 GEMM measured here (8x8 mesh, native engine)."""
    print("[mpi_scale] measuring an 8x8 f16 GEMM's MAC utilisation for the whole-wafer projection ...", flush=True)
    case = gemm_case(8, 8, 128, 128, 128, "f16", seed=1)
    [rec] = run_cases([case], run_name="mpi_scale_gemm")
    util, lanes = rec["utilization"], case.plan.lanes
    m, k, n = WAFER_ROWS * 32, 4096, WAFER_COLS * 32
    macs = m * k * n
    cycles = macs / (WAFER_ROWS * WAFER_COLS * lanes * util)
    return {"M": m, "K": k, "N": n, "macs": macs, "mac_lanes_per_pe": lanes, "measured_mac_utilization": util,
            "utilization_from": "8x8 small, 128x128x128 f16, native engine", "cycles": round(cycles)}


def pingpong_main() -> int:
    """Under mpiexec -n 2 (mpi4py): the one-way time of a small message and of a boundary-sized one
    between two ranks of this machine; rank 0 prints them as JSON."""
    import numpy as np
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    out = {}
    for name, words in (("small", 8), ("boundary", WAFER_COLS * 3)):
        buf = np.zeros(words, dtype=np.uint64)
        reps = 2000
        comm.Barrier()
        t0 = MPI.Wtime()
        for _ in range(reps):
            if comm.rank == 0:
                comm.Send(buf, dest=1)
                comm.Recv(buf, source=1)
            else:
                comm.Recv(buf, source=0)
                comm.Send(buf, dest=0)
        out[f"{name}_message_seconds"] = (MPI.Wtime() - t0) / (2 * reps)
        out[f"{name}_message_bytes"] = words * 8
    if comm.rank == 0:
        print(json.dumps(out))
    return 0


def measure_messages(mpi) -> dict:
    """The mpi4py ping-pong of pingpong_main, launched with this machine's mpiexec."""
    import subprocess

    p = subprocess.run([str(mpi.mpiexec), "-n", "2", sys.executable, "-m", "bench.mpi_scale", "--pingpong"],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
    if p.returncode:
        raise RuntimeError(f"the MPI ping-pong failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def projection(records: list, msg: dict) -> dict:
    one = [r for r in records if r["ranks"] == 1 and r["threads"] == 1]
    big = max(one, key=lambda r: r["rows"] * r["cols"]) if one else None
    if big is None:
        return {}
    t_tile = 1.0 / big["pe_cycles_per_second"]  # seconds per tile-cycle, one core, the largest mesh run
    # the software cost of one small message on this machine (shared memory, mpi4py ping-pong)
    per_msg = msg["small_message_seconds"]
    gemm = gemm_cycles_whole_wafer()
    out = {"assumptions": {
        "seconds_per_tile_cycle": t_tile, "from": f"{big['mesh']}, 1 rank",
        "software_seconds_per_message": per_msg, "measured_messages": msg, "network_latency_seconds": NET_LATENCY_S,
        "network_bytes_per_second": NET_BYTES_PER_S, "cores_per_node": CORES_PER_NODE,
        "one_rank_per_core": True,
        "partition": "bands of rows: at most one rank per row (750), so 128 nodes use 750 of 2,048 cores",
        "rank0_star": "every worker exchanges SEQ and STATUS with rank 0 every cycle (2 messages each)",
        "boundary_bytes_per_neighbour_per_cycle": WAFER_COLS * (8 + 16) + 2 * 40},
        "whole_wafer_gemm": gemm, "nodes": []}
    for nodes in (8, 32, 128):
        ranks = min(nodes * CORES_PER_NODE, WAFER_ROWS)
        rows_per_rank = math.ceil(WAFER_ROWS / ranks)
        compute = rows_per_rank * WAFER_COLS * t_tile
        boundary = 2 * (NET_LATENCY_S + per_msg + (WAFER_COLS * 12) / NET_BYTES_PER_S)  # RDY then OUT, both ways
        star = 2 * (ranks - 1) * (per_msg + 0.1 * NET_LATENCY_S)  # rank 0 posts/drains 2 messages per worker
        cycle_s = compute + boundary + star
        out["nodes"].append({"nodes": nodes, "ranks": ranks, "rows_per_rank": rows_per_rank,
                             "compute_seconds_per_cycle": compute, "exchange_seconds_per_cycle": boundary + star,
                             "cycles_per_second": round(1 / cycle_s, 1),
                             "gemm_wall_hours": round(gemm["cycles"] * cycle_s / 3600, 1)})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=REPO / "build" / "bench" / "mpi_scale.json")
    ap.add_argument("--sizes", default="64x64,256x256")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--cycles", default="64x64:1000,256x256:400",
                    help="cycles per size, SIZE:N items (a size not listed runs 400)")
    ap.add_argument("--no-threads", action="store_true", help="skip the 2-thread runs")
    ap.add_argument("--pingpong", action="store_true", help=argparse.SUPPRESS)  # a rank of measure_messages
    args = ap.parse_args(argv)
    if args.pingpong:
        return pingpong_main()
    try:
        sizes = parse_sizes(args.sizes)
        ranks_list = [int(x) for x in args.ranks.split(",") if x]
        for r, _ in sizes:
            for n in ranks_list:
                check_ranks(n, r)
        cycles = {k.lower(): int(v) for k, v in (item.split(":") for item in filter(None, args.cycles.split(",")))}
        mpi = MpiInstall.find()
    except (MeshShapeError, ValueError, MpiMissing) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[mpi_scale] MPI: {mpi.version} ({mpi.mpiexec}); {os.cpu_count()} cores here", flush=True)
    records = []
    args.json.parent.mkdir(parents=True, exist_ok=True)

    def save(extra=()):
        args.json.write_text(json.dumps(records + list(extra), indent=2))

    for r, c in sizes:
        n = cycles.get(f"{r}x{c}", 400)
        base = None
        for ranks in ranks_list:
            rec = run(r, c, ranks, 1, n)
            if ranks == 1:
                base = rec["digest"]
            rec["bit_identical"] = None if base is None else rec["digest"] == base
            records.append(rec)
            save()
        if not args.no_threads:
            rec = run(r, c, 1, 2, n)
            rec["bit_identical"] = None if base is None else rec["digest"] == base
            records.append(rec)
            save()
    comparison = []
    for r, c in sizes:
        mesh = f"{r}x{c}"
        get = {(x["ranks"], x["threads"]): x["pe_cycles_per_second"] for x in records if x["mesh"] == mesh}
        if (2, 1) in get:
            comparison.append({"mesh": mesh,
                               "two_ranks_over_two_threads": round(get[(2, 1)] / get[(1, 2)], 3) if (1, 2) in get
                               else None,
                               "two_ranks_over_one_rank": round(get[(2, 1)] / get[(1, 1)], 3) if (1, 1) in get
                               else None})
    msg = measure_messages(mpi)
    print(f"[mpi_scale] one message between two ranks here: {1e6 * msg['small_message_seconds']:.2f} us "
          f"({msg['small_message_bytes']} B), {1e6 * msg['boundary_message_seconds']:.2f} us "
          f"({msg['boundary_message_bytes']:,} B)", flush=True)
    proj = projection(records, msg)
    save([{"comparison": comparison}, {"projection": proj}])
    print(f"\n{'mesh':>9} {'ranks':>5} {'thr':>3} {'PE-cyc/s':>10} {'msg/cyc':>8} {'bytes/cyc':>10} {'exch %':>7} "
          f"{'identical':>9}")
    for x in records:
        print(f"{x['mesh']:>9} {x['ranks']:>5} {x['threads']:>3} {x['pe_cycles_per_second']:>10,} "
              f"{x['messages_per_cycle']:>8} {x['bytes_per_cycle']:>10,.0f} {100 * x['exchange_fraction']:>6.1f} "
              f"{str(x['bit_identical']):>9}")
    for cmp in comparison:
        print(f"{cmp['mesh']}: 2 ranks / 2 threads = {cmp['two_ranks_over_two_threads']}, "
              f"2 ranks / 1 rank = {cmp['two_ranks_over_one_rank']}")
    for p in proj.get("nodes", []):
        print(f"750x994 on {p['nodes']} nodes ({p['ranks']} ranks, {p['rows_per_rank']} rows each): "
              f"{p['cycles_per_second']} cycles/s; whole-wafer GEMM ({proj['whole_wafer_gemm']['cycles']:,} cycles) "
              f"in {p['gemm_wall_hours']} h")
    print(f"\nwrote {args.json}")
    return 0 if all(x["bit_identical"] is not False for x in records) else 1


if __name__ == "__main__":
    sys.exit(main())
