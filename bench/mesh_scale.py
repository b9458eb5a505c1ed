"""Mesh scale: Verilator build time and peak memory, and simulation speed, by mesh size; wafer generation.

Wafer generation: the time and peak memory of generating a wafer-sized (750 x 994) mesh.

Each build runs in a fresh subprocess with fresh build folders (the tile library included), so
its wall time and peak RSS (the largest child process: Verilator or the C++ compiler) are its own.

Engines (``--engine``): ``native`` (default, what the regression and ``make sim`` use) compiles the
tile once as a C++ library and wires the R x C instances in C++ (sdk/builds/native_mesh.py), so the build
does not grow with the mesh; ``hierarchical`` verilates the generated Verilog mesh top with the tile
as a Verilator hierarchical block (compiled once, but with per-instance glue in the top). The
simulation figure loads edge-to-edge routes through the management path and streams wavelets across the mesh for a
fixed number of cycles (tb/cocotb_tile_mesh.py `clock_run`).

The native tile library is built with GCC's profile-guided optimisation (``TileLibrary(pgo=True)``:
trained on a 4 x 4 mesh streaming and running GEMM/GEMV jobs, about twice the build time; the
same mesh, only faster). ``--no-pgo`` measures the plain build the regression uses. On the native
engine the streaming loop runs on the edge autopilot (sdk/cosim/autopilot.py): no Python per cycle.

Writes a JSON list of records:
    {rows, cols, profile, core, threads, engine, pgo, build_seconds, build_peak_rss_mb, sim_cycles,
     engine, pe_cycles_per_second, route_load_wavelets, route_load_cycles, sim_peak_rss_mb}  per size, and
    {"wafer": true, rows: 750, cols: 994, profile, generate_seconds, generate_peak_rss_mb}

Usage:
    python -m bench.mesh_scale [--json build/bench/mesh_scale.json] [--sizes 2x2,8x8,16x16,32x32,64x64]
        [--profile small] [--extra wse:8x8] [--threads 1] [--cycles 2000] [--fabric-only] [--no-wafer]
        [--engine native|hierarchical] [--no-pgo]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from hdl.mesh import MeshShapeError, check_mesh_shape
from hdl.profiles import ProfileError, get_profile
from sdk.builds.engine_builds import mesh_build
from sdk.builds.native_mesh import TileLibrary
from sdk.builds.paths import BUILD
from sdk.pgo_training import TRAINING

REPO = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, resource, sys, time
from hdl.mesh import generate_mesh
from bench.mesh_scale import _bench_build
args = json.loads(sys.argv[1])
t0 = time.monotonic()
out = {}
if args["what"] == "wafer":
    generate_mesh(args["rows"], args["cols"], args["profile"], args["out"], core=args["core"])
else:
    m = _bench_build(args["name"], args["rows"], args["cols"], args["profile"], args["core"], args["threads"],
                     args["engine"], args["pgo"])
    if args["what"] == "build":
        m.build()
    else:
        m.run("tb.cocotb_tile_mesh", testcase="clock_run", run_name="bench", config=args["config"])
secs = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child: Verilator, C++ or the simulator
if args["what"] != "sim":  # generation (and Amaranth's elaboration of the tile) run in this process
    rss = max(rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(json.dumps({"seconds": secs, "peak_rss_mb": rss / 1024}))
"""


def _child(args: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], capture_output=True, text=True, cwd=REPO)
    if p.returncode:
        raise RuntimeError(f"{args} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def parse_sizes(text: str):
    out = []
    for item in filter(None, text.split(",")):
        try:
            r, c = (int(x) for x in item.lower().split("x"))
        except ValueError:
            raise MeshShapeError(f"size {item!r} is not ROWSxCOLS") from None
        check_mesh_shape(r, c)
        out.append((r, c))
    return out


def _bench_build(name, rows, cols, profile, core, threads, engine, pgo=False):
    """The build to measure, under a bench-only name (its tile library too), so it is built afresh."""
    lib = TileLibrary(profile, core, name=name + "_tile_lib", pgo=pgo, training=TRAINING if pgo else None) \
        if engine == "native" else None
    return mesh_build(rows, cols, profile, core, engine=engine, threads=threads, name=name, lib=lib)


def measure(rows, cols, profile, core, threads, cycles, engine="native", pgo=False) -> dict:
    tag = ("" if core else "_fabric") + ("_pgo" if pgo else "")
    name = f"bench_mesh_{engine}_{rows}x{cols}_{profile}{tag}_t{threads}"
    for old in (BUILD / "models").glob(f"{name}*-*"):
        shutil.rmtree(old)  # a fresh build every time (tile library included): that is what is measured
    print(f"[mesh_scale] {rows}x{cols} {profile}{tag} ({engine}): building (threads={threads}) ...", flush=True)
    b = _child({"what": "build", "engine": engine, "name": name, "rows": rows, "cols": cols, "profile": profile,
                "core": core, "threads": threads, "pgo": pgo})
    rec = {"rows": rows, "cols": cols, "profile": profile, "core": core, "threads": threads, "engine": engine,
           "pgo": pgo,
           "build_seconds": round(b["seconds"], 1), "build_peak_rss_mb": round(b["peak_rss_mb"], 1)}
    print(f"[mesh_scale]   built in {rec['build_seconds']} s, peak {rec['build_peak_rss_mb']} MB; simulating "
          f"(large meshes log progress to build/runs/{name}-*/bench/sim.log)", flush=True)
    report = BUILD / "bench" / f"{name}.sim.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    run = _child({"what": "sim", "engine": engine, "name": name, "rows": rows, "cols": cols, "profile": profile,
                  "core": core, "threads": threads, "pgo": pgo,
                  "config": {"profile": profile, "rows": rows, "cols": cols, "cycles": cycles, "report": str(report)}})
    sim = json.loads(report.read_text())
    rec["sim_cycles"] = sim["cycles"]
    rec["route_load_wavelets"] = sim["load_wavelets"]  # through the west edge, all rows in parallel
    rec["route_load_cycles"] = sim["load_cycles"]
    rec["pe_cycles_per_second"] = round(sim["cycles"] * rows * cols / sim["wall_seconds"])
    rec["sim_peak_rss_mb"] = round(run["peak_rss_mb"], 1)  # the simulator process
    print(f"[mesh_scale]   {rec['pe_cycles_per_second']} PE-cycles/s, route load {rec['route_load_cycles']} cycles",
          flush=True)
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=REPO / "build" / "bench" / "mesh_scale.json")
    ap.add_argument("--sizes", default="2x2,8x8,16x16,32x32,64x64")
    ap.add_argument("--profile", default="small")
    ap.add_argument("--extra", default="wse:8x8", help="more PROFILE:RxC items, comma-separated ('' for none)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--fabric-only", action="store_true", help="tiles without the PE core")
    ap.add_argument("--no-wafer", action="store_true", help="skip the 750 x 994 generation")
    ap.add_argument("--no-pgo", action="store_true",
                    help="compile the tile library without profile-guided optimisation (the regression's build)")
    ap.add_argument("--engine", choices=("native", "hierarchical"), default="native",
                    help="native: tile library + C++ wiring (default); "
                         "hierarchical: the Verilog top with the tile as a hier block")
    args = ap.parse_args(argv)
    try:
        plan = [(r, c, get_profile(args.profile).name) for r, c in parse_sizes(args.sizes)]
        for item in filter(None, args.extra.split(",")):
            prof, size = item.split(":")
            plan += [(r, c, get_profile(prof).name) for r, c in parse_sizes(size)]
        if args.threads < 1:
            raise ValueError("--threads must be >= 1")
    except (MeshShapeError, ProfileError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    records = []
    args.json.parent.mkdir(parents=True, exist_ok=True)

    def save():  # after every record: a long run stopped early keeps what it measured
        args.json.write_text(json.dumps(records, indent=2))

    if not args.no_wafer:
        print("[mesh_scale] generating the 750 x 994 wafer mesh ...", flush=True)
        out = REPO / "build" / "mesh" / "wafer_750x994"
        g = _child({"what": "wafer", "rows": 750, "cols": 994, "profile": args.profile, "out": str(out),
                    "core": not args.fabric_only})
        records.append({"wafer": True, "rows": 750, "cols": 994, "profile": args.profile,
                        "core": not args.fabric_only, "generate_seconds": round(g["seconds"], 2),
                        "generate_peak_rss_mb": round(g["peak_rss_mb"], 1)})
        save()
    for r, c, prof in plan:
        records.append(measure(r, c, prof, not args.fabric_only, args.threads, args.cycles, args.engine,
                               pgo=args.engine == "native" and not args.no_pgo))
        save()
    print(f"\n{'mesh':>10} {'profile':>8} {'core':>5} {'thr':>4} {'build s':>8} {'peak MB':>8} {'PE-cyc/s':>10} "
          f"{'sim MB':>8}")
    for rec in records:
        if rec.get("wafer"):
            print(f"{'750x994':>10} {rec['profile']:>8} {str(rec['core']):>5} {'-':>4} "
                  f"{'gen ' + str(rec['generate_seconds']):>8} {rec['generate_peak_rss_mb']:>8} {'-':>10}")
        else:
            print(f"{str(rec['rows']) + 'x' + str(rec['cols']):>10} {rec['profile']:>8} {str(rec['core']):>5} "
                  f"{rec['threads']:>4} {rec['build_seconds']:>8} {rec['build_peak_rss_mb']:>8} "
                  f"{rec['pe_cycles_per_second']:>10} {str(rec['sim_peak_rss_mb']):>8}")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
