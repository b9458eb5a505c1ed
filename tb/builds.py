"""The Verilator builds (sdk.builds.verilator.SimBuild) the testbenches run on, each built once per
configuration and reused (also across pytest-xdist workers: sdk/builds/verilator.py caches builds
on disk by content), and the one call that runs a cocotb test on one.

With TESSERA_WAVES=1 every design is built with FST tracing (the meshes flat, so every tile's
signals are in the waveform) and ``run_cocotb`` prints where the waveform is.

Interface:
    router_mesh_build(rows, cols, profile)       the router-only fixture (hdl/router_mesh.py)
    tile_mesh_build(rows, cols, profile, core=True, threads=1)   a generated mesh, native engine
    verilog_mesh_build(rows, cols, profile, core=True)           the Verilog mesh top (hierarchical)
    board_build(rows, cols, profile)             the FPGA board core (UART + bridge + mesh), 4 cycles/bit
    fplane_build()                               one FMAC lane (hdl/fpu.py)
    pe_build(profile)                            one PE (hdl/pe)
    run_cocotb(build, module, testcase, **config) -> run folder
"""

from __future__ import annotations

import functools
import hashlib

from amaranth.back import verilog

from hdl.fpu import FPLane
from hdl.pe import PE
from hdl.router_mesh import emit_router_mesh
from sdk.builds.engine_builds import board_core_build, mesh_build
from sdk.builds.verilator import MESH_ARGS, SimBuild, waves_requested
from sdk.pgo_training import TRAINING

__all__ = ["router_mesh_build", "tile_mesh_build", "verilog_mesh_build", "board_build", "fplane_build", "pe_build",
           "run_cocotb", "BOARD_DIVISOR"]

BOARD_DIVISOR = 4  # the fastest UART the board core allows: 4 clock cycles per bit


@functools.lru_cache(maxsize=None)
def router_mesh_build(rows: int, cols: int, profile: str, die=None, stages: int = 1) -> SimBuild:
    """The router-only mesh; with ``die`` = (rows, cols), die-boundary links of ``stages`` stages."""
    waves = waves_requested()
    tag = f"_die{die[0]}x{die[1]}_l{stages}" if die else ""
    # only the top's ports are public (the testbench reads nothing else): cocotb's default makes
    # every signal of every router public, which more than doubles the C++ and its compile time
    return SimBuild(f"router_mesh_{rows}x{cols}_{profile}{tag}" + ("_waves" if waves else ""),
                    emit_router_mesh(rows, cols, profile, die=die, stages=stages), "router_mesh", waves=waves,
                    extra_args=MESH_ARGS, extra_vlt='public_flat_rw -module "router_mesh" -var "*"\n')


@functools.lru_cache(maxsize=None)
def tile_mesh_build(rows: int, cols: int, profile: str, core: bool = True, threads: int = 1) -> SimBuild:
    """The native-mesh build, or with TESSERA_WAVES=1 the flat Verilog one with FST tracing (with
    TESSERA_PGO=1 its tile library trained on the SDK's workload, sdk/pgo_training.py)."""
    return mesh_build(rows, cols, profile, core, waves=waves_requested(), threads=threads, training=TRAINING)


@functools.lru_cache(maxsize=None)
def verilog_mesh_build(rows: int, cols: int, profile: str, core: bool = True, wafer=None) -> SimBuild:
    """The generated Verilog mesh top itself (the tile a Verilator hierarchical block), to check
    that it behaves exactly as the native-mesh build the other tests use; with ``wafer``
    (hdl.link_plan.Wafer) the physical wafer top with its repair cells and die boundaries."""
    return mesh_build(rows, cols, profile, core, engine="hierarchical", wafer=wafer)


@functools.lru_cache(maxsize=None)
def board_build(rows: int, cols: int, profile: str = "small") -> SimBuild:
    return board_core_build(rows, cols, profile, BOARD_DIVISOR, waves=waves_requested())


@functools.lru_cache(maxsize=None)
def fplane_build() -> SimBuild:
    waves = waves_requested()
    return SimBuild("fplane" + ("_waves" if waves else ""), {"tessera_fplane.v": verilog.convert(FPLane(),
                    name="tessera_fplane")}, "tessera_fplane", waves=waves)


@functools.lru_cache(maxsize=None)
def pe_build(profile: str = "small") -> SimBuild:
    return SimBuild(f"pe_{profile}", {"tessera_pe.v": verilog.convert(PE(profile), name="tessera_pe")}, "tessera_pe")


def run_cocotb(build: SimBuild, module: str, testcase: str, **config):
    """Run one cocotb test; with TESSERA_WAVES=1 record an FST and print where it is."""
    waves = waves_requested()
    run_name = f"{testcase}-" + "-".join(f"{k}{v}" for k, v in sorted(config.items()))
    if len(run_name) > 100:  # long configs (lists) make a name no file system takes
        run_name = f"{run_name[:60]}-{hashlib.sha1(run_name.encode()).hexdigest()[:12]}"
    run_dir = build.run(module, testcase=testcase, config=config, waves=waves, run_name=run_name)
    if waves:
        print(f"\nwaveform: {run_dir / 'dump.fst'}")
    return run_dir
