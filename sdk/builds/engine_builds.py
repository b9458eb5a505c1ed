"""Verilator builds (SimBuild) of a generated tile mesh (hdl/mesh.py), one entry point for every engine,
and of the FPGA board core.

Engines (docs/mesh.md, "Simulator builds"):
    native        the tile compiled once as a C++ library, R x C instances wired in C++ behind the
                  mesh top's ports (sdk/builds/native_mesh.py); what the regression, ``make sim`` and the
                  benchmarks use. ``threads``: row bands evaluated in parallel.
    hierarchical  the generated Verilog mesh top, the tile a Verilator hierarchical block (compiled
                  once, per-instance glue in the top); checks the Verilog top against native.
    flat          the generated Verilog mesh top verilated whole: waveforms of every tile (``waves``
                  implies it, every signal public), or — without waves — only the mesh ports and
                  each tile's probe public (the counters, sdk/activity.py); slower to build.
``threads`` is Verilator's ``--threads`` for the Verilog engines.

Interface:
    mesh_build(rows, cols, profile="small", core=True, engine="native", waves=False, threads=1,
               name=None, lib=None, wafer=None, ranks=1, training=None) -> sdk.builds.verilator.SimBuild
               (built on first use, then cached on disk). ``wafer`` (hdl.link_plan.Wafer: spares and
               a defect map, dies): the physical wafer top (hdl/mesh_top.py) behind the same logical
               ports (native: the stages on its links, from the same link plan). ``training``: the PGO
               training module of a native build's tile library (sdk/builds/native_mesh.py ``TileLibrary``)
    board_core_build(rows, cols, profile="small", divisor=4, waves=False) -> SimBuild
               the FPGA board core (hdl/board_core.py: UART + host bridge + mesh)
"""

from __future__ import annotations

from hdl.board_core import CORE_MODULE, core_sources
from hdl.mesh import MESH_TOP, mesh_sources
from hdl.profiles import get_profile
from hdl.tile import TILE_MODULE
from hdl.wafer_mesh import wafer_sources

from .native_mesh import native_mesh_build
from .verilator import MESH_ARGS, MESH_VLT, SimBuild

#: the tile's probe port, readable in a flat build (sdk/cosim/sim_server.py ``Probes``)
FLAT_PROBE_VLT = f'public_flat_rw -module "{TILE_MODULE}" -var "probe"\n'

__all__ = ["mesh_build", "board_core_build", "ENGINES"]

ENGINES = ("native", "hierarchical", "flat")


def mesh_build(rows: int, cols: int, profile="small", core: bool = True, engine: str = "native",
               waves: bool = False, threads: int = 1, name: str | None = None, lib=None, wafer=None,
               ranks: int = 1, training: str | None = None) -> SimBuild:
    if engine not in ENGINES:
        raise ValueError(f"unknown mesh engine {engine!r}; one of {', '.join(ENGINES)}")
    if ranks != 1 and (engine != "native" or waves):
        raise ValueError(f"ranks={ranks!r}: only the native engine runs on MPI ranks (without waves)")
    if waves:
        engine = "flat"  # only a flat build traces every tile's signals
    prof = get_profile(profile)
    if engine == "native":
        return native_mesh_build(rows, cols, prof, core, threads, name=name, lib=lib, wafer=wafer, ranks=ranks,
                                 training=training)
    flat = engine == "flat"
    name = name or (f"tile_mesh_{rows}x{cols}_{prof.name}" + ("" if core else "_fabric")
                    + (f"_{wafer.tag()}" if wafer is not None else "")
                    + ("_flat" if flat else "") + ("_waves" if waves else ""))
    sources = mesh_sources(rows, cols, prof, core) if wafer is None else wafer_sources(rows, cols, prof, core, wafer)
    if flat and waves:
        return SimBuild(name, sources, MESH_TOP, waves=waves, threads=threads)
    if flat:
        # Without waves only the mesh ports and each tile's probe (hdl/probe.py) need to be visible:
        # the build is much smaller than with every signal public.
        return SimBuild(name, sources, MESH_TOP, threads=threads, extra_args=MESH_ARGS,
                        extra_vlt=MESH_VLT + FLAT_PROBE_VLT)
    return SimBuild(name, sources, MESH_TOP, threads=threads,
                    hier_blocks=("tessera_tile",), extra_args=MESH_ARGS, extra_vlt=MESH_VLT)


def board_core_build(rows: int, cols: int, profile="small", divisor: int = 4, waves: bool = False) -> SimBuild:
    prof = get_profile(profile)
    # the testbench drives and reads only the core's ports (clk, rst, rx, tx): only they are public
    return SimBuild(f"fpga_core_{rows}x{cols}_{prof.name}" + (f"_d{divisor}" if divisor != 4 else "")
                    + ("_waves" if waves else ""), core_sources(rows, cols, prof, divisor), CORE_MODULE, waves=waves,
                    hier_blocks=("tessera_tile",), extra_args=MESH_ARGS,
                    extra_vlt=f'public_flat_rw -module "{CORE_MODULE}" -var "*"\n')
