"""Native-mesh Verilator builds: the tile compiled once, R x C instances wired in C++.

Verilator's hierarchical mode compiles the tile once, but still writes per-instance glue into the
mesh top (trigger checks and update calls for every port of every instance, about 60 KB of C++ per
tile), so a hierarchical 32 x 32 build took 7x a 2 x 2 one and a 64 x 64 build did not fit in this
machine's memory. A native-mesh build instead:

1. verilates and compiles the tile module (hdl/tile.py, emitted by Amaranth) as a C++ library
   ``Vtile`` — once per profile, whatever the mesh size;
2. builds a mesh top ``tessera_mesh`` with the ports of the mesh's link plan (hdl/link_plan.py),
   the ones the Verilog top (hdl/mesh_top.py) has, so every testbench and host driver works
   unchanged, whose body calls two DPI functions in sdk/builds/native_mesh.cpp, which hold the
   R x C tile objects and do the wiring of the Verilog mesh top cycle by cycle (see that file for
   the evaluation order): the links, the row status and the fault chain along each row
   (``row_fault``).

The C++ compiled for a mesh is therefore the same for 2 x 2 and 750 x 994; only the memory of the
running simulation grows with the mesh. The stages on the links come from the same link plan the
Verilog top is written from: a wafer (spares and a defect map, dies) adds the link stages of its
bypassed tiles and die boundaries, ``BoundaryLink`` (hdl/boundary.py) verilated once per stage
count (``LinkLibrary``), instantiated per stage by the plan's chains, which the top hands to the
C++ as text: cycle for cycle what the wafer's Verilog top does. ``threads`` runs the tiles in
that many row bands in parallel. The Verilog mesh top stays the deliverable (synthesis, flat
builds for waveforms and per-PE counters); tests/test_mesh.py runs the same front-door scenario on
both and compares (tests/test_wafer_mesh.py: on wafers too).

Interface:
    native_top_verilog(plan, colors, threads=1) -> str       the DPI mesh top of a hdl.link_plan.LinkPlan
    TileLibrary(profile, core=True, name=None, pgo=None, training=None)   .build() -> Path (cached,
                                                             file-locked); pgo: GCC profile-guided, trained
                                                             by the caller's ``training`` module
    LinkLibrary(colors, stages)                              a BoundaryLink as C++ class Vlink1 / VlinkL
    chain_text(plan) -> str                                  the plan's link chains, as the C++ reads them
    native_mesh_build(rows, cols, profile, core=True, threads=1, name=None, lib=None, wafer=None, ranks=1,
                      training=None)
        -> sdk.builds.verilator.SimBuild        ranks > 1: on MPI ranks (mpi_ranks.py, docs/mesh.md)
    check_ranks(ranks, rows) -> int
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from amaranth.back import verilog

from hdl.boundary import BoundaryLink
from hdl.fault import FAULT_BITS
from hdl.link_plan import LinkPlan
from hdl.mesh_common import MESH_TOP, check_mesh_shape, tile_verilog
from hdl.packing import Packer
from hdl.probe import TRACE
from hdl.profiles import get_profile
from hdl.wavelet import EDGE_SIDES, WAVELET_BITS, WaveletLayout

from ..errors import SdkError
from .mpi_ranks import RankWorker, launch
from .paths import AUTOPILOT_HEADER, BUILD, NATIVE_CPP, RANKS_HEADER, REPO
from .verilator import MESH_ARGS, MESH_VLT, BuiltOnce, SimBuild, log_tail, tool_versions

__all__ = ["native_top_verilog", "TileLibrary", "LinkLibrary", "chain_text", "native_mesh_build", "check_ranks",
           "pgo_requested", "PGO_ENV"]

_TILE_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial", "fast",
              "-MAKEFLAGS", "OPT_FAST=-O2"]


def _field_defines() -> list:
    """-D flags with the bit offsets the C++ reads trace ports and wavelets with (one definition:
    the layouts of hdl/probe.py and hdl/wavelet.py)."""
    out = [f"-DTESSERA_TRACE_{name.upper()}={TRACE.fields[name][0]}"
           for name in ("task_start", "task_end", "task", "vec_issue", "vec_done")]
    wav = Packer(WaveletLayout)
    out += [f"-DTESSERA_WAVELET_{name.upper()}={wav.fields[name][0]}" for name in ("color", "ctrl")]
    return out


def chain_text(plan: LinkPlan) -> str:
    """The plan's link chains as ``kind r c side n L1 .. Ln`` groups (native_mesh.cpp reads them;
    empty: no link has a stage)."""
    sides = {p.letter.upper(): i for i, p in enumerate(EDGE_SIDES)}  # N E S W, the C++ Side order
    groups = []
    for (kind, r, c, side), stages in sorted(plan.chains.items()):
        groups.append(" ".join(str(x) for x in (int(kind == "in"), r, c, sides[side], len(stages), *stages)))
    return " ".join(groups)


def _dpi_arguments(plan: LinkPlan, colors: int) -> dict:
    """The plan's ports (but clk and rst) as the two DPI functions take them, each ``(name, width)``
    in the C++'s order (sides N E S W): ``seq_in``/``seq_out`` of the edge function, ``comb_in``/
    ``comb_out`` of the comb one. Every port is in exactly one group."""
    width = {name: w for _, name, w in plan.ports(colors)}
    letters = [p.letter for p in EDGE_SIDES]
    groups = {"seq_in": [f"{s}_in_{x}" for s in letters for x in ("valid", "data")],
              "seq_out": [f"{s}_in_ready" for s in letters] + [f"row_{x}" for x in ("err", "idle", "halted", "fault")],
              "comb_in": [f"{s}_out_ready" for s in letters],
              "comb_out": [f"{s}_out_{x}" for s in letters for x in ("valid", "data")]}
    named = sorted(n for g in groups.values() for n in g)
    if named != sorted(set(width) - {"clk", "rst"}):
        raise AssertionError(f"the native top's DPI arguments {named} are not the plan's ports {sorted(width)}")
    return {g: [(n, width[n]) for n in names] for g, names in groups.items()}


def native_top_verilog(plan: LinkPlan, colors: int, threads: int = 1) -> str:
    """The mesh top: the plan's ports, with the tiles behind two DPI calls and its chains handed to them."""
    R, C, K = plan.rows, plan.cols, colors
    ports = [f"{d} [{w - 1}:0] {n}" for d, n, w in plan.ports(colors)]
    args = _dpi_arguments(plan, colors)
    decl = {g: [f"{'input' if g.endswith('_in') else 'output'} bit [{w - 1}:0] {n}" for n, w in a]
            for g, a in args.items()}
    sep = ",\n    "
    q = [(n, w) for g in ("seq_out", "comb_out") for n, w in args[g]]  # registered: name -> width
    regs = "\n".join(f"  bit [{w - 1}:0] {n}_q;" for n, w in q)
    assigns = "\n".join(f"  assign {n} = {n}_q;" for n, _ in q)
    seq_args = ", ".join([n for n, _ in args["seq_in"]] + [f"{n}_q" for n, _ in args["seq_out"]])
    comb_args = ", ".join([n for n, _ in args["comb_in"]] + [f"{n}_q" for n, _ in args["comb_out"]])
    return f"""// Generated by sdk/builds/native_mesh.py: a {R} x {C} Tessera mesh for native-mesh simulation.
// The link plan's ports, as hdl/mesh_top.py's {MESH_TOP}; the tiles are C++ objects in native_mesh.cpp.
module {MESH_TOP} (
    {sep.join(ports)}
);
  import "DPI-C" function longint tessera_native_mesh_seq(
    input int rows, input int cols, input int colors, input int threads, input string plan, input bit rst,
    {sep.join(decl["seq_in"] + decl["seq_out"])});
  import "DPI-C" function void tessera_native_mesh_comb(
    input int rows, input int cols, input int colors, input int threads, input string plan, input longint seq,
    {sep.join(decl["comb_in"] + decl["comb_out"])});
  // the link plan's chains of stages (hdl/link_plan.py; empty: no link has one)
  localparam string PLAN = "{chain_text(plan)}";

{regs}
  import "DPI-C" function int tessera_native_mesh_auto_pause();
  longint seq = 0;
  // high for one edge when the edge autopilot (native_mesh_autopilot.h) stops
  bit native_pause = 0;

  // Rising edge: every tile samples its inputs and is clocked; the edge's ready, the row status
  // and the row fault words come back (they depend on the tiles' state only).
  always @(posedge clk) begin
    seq <= tessera_native_mesh_seq({R}, {C}, {K}, {threads}, PLAN, rst, {seq_args});
    native_pause <= tessera_native_mesh_auto_pause() != 0;
  end

  // The edge's out valid/data depend on the testbench's out ready: re-evaluated when it changes
  // and after every edge (seq).
  always_comb
    tessera_native_mesh_comb({R}, {C}, {K}, {threads}, PLAN, seq, {comb_args});

{assigns}
endmodule
"""


class _CppLibrary(BuiltOnce):
    """One Verilog module verilated and compiled once into ``<prefix>__ALL.a`` (C++ class
    ``prefix``), keyed by its Verilog, the prefix, the flags and the tool versions."""

    what = "library"

    pgo = False
    training = None

    def _setup(self, name: str, verilog_text: str, top: str, prefix: str):
        self.name, self.verilog, self.top, self.prefix = name, verilog_text, top, prefix
        h = hashlib.sha256(json.dumps([verilog_text, prefix, _TILE_ARGS, tool_versions()]
                                      + ([PGO_VERSION, self.training] if self.pgo else [])).encode())
        self.key = h.hexdigest()[:16]
        self.dir = BUILD / "models" / f"{name}-{self.key}"

    @property
    def archive(self) -> Path:
        return self.dir / f"{self.prefix}__ALL.a"

    def _build(self):
        if self.pgo:
            self._compile(["-CFLAGS", "-fprofile-generate -fprofile-update=single"], "build-instrumented.log")
            self._train()
            for obj in self.dir.glob("*.o"):  # recompiled with the profile (the .gcda files stay)
                obj.unlink()
            self.archive.unlink()
            self._compile(["-CFLAGS", "-fprofile-use -fprofile-partial-training -Wno-missing-profile"], "build.log")
        else:
            self._compile([], "build.log")

    def _compile(self, extra: list, log_name: str):
        src = self.dir / f"{self.top}.v"
        src.write_text(self.verilog)
        cmd = ["verilator", "--cc", "--build", "-j", "2", "--prefix", self.prefix, "--top-module", self.top,
               "-Mdir", str(self.dir), *_TILE_ARGS, *extra, str(src)]
        with open(self.dir / log_name, "w") as log:
            p = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        if p.returncode or not self.archive.exists():
            raise RuntimeError(f"Verilator build of the {self.what} {self.name} failed:\n"
                               + log_tail(self.dir / log_name))

    def _train(self):
        raise NotImplementedError


class TileLibrary(_CppLibrary):
    """The tile verilated and compiled once into ``Vtile__ALL.a`` (C++ class ``Vtile``).

    ``pgo``: compiled with GCC's profile-guided optimisation, trained by the workload the caller
    names in ``training``: a module run as ``python -m <training> PROFILE core|fabric LIBRARY_NAME``
    between the instrumented compile and the final one, which plays jobs on ``training_build()``
    (the SDK's is sdk.pgo_training: wavelets streamed into every row, GEMM and sparse-GEMV
    jobs). ``pgo=True`` needs a ``training``; by default (``pgo=None``) a library is profile-guided
    when the TESSERA_PGO environment variable is set and a ``training`` is given. The mesh's
    behaviour is the same; only its speed changes (docs/mesh.md), for about twice the build time."""

    what = "tile library"

    def __init__(self, profile="small", core: bool = True, name: str | None = None, pgo: bool | None = None,
                 training: str | None = None):
        self.profile = get_profile(profile)
        self.core = core
        self.pgo = (pgo_requested() and training is not None) if pgo is None else bool(pgo)
        if self.pgo and not training:
            raise ValueError("a profile-guided tile library needs its training workload: "
                             "TileLibrary(..., pgo=True, training='<module>')")
        self.training = training if self.pgo else None
        name = name or f"tile_lib_{self.profile.name}" + ("" if core else "_fabric") + ("_pgo" if self.pgo else "")
        self._setup(name, tile_verilog(self.profile, core), "tessera_tile", "Vtile")

    def training_build(self):
        """The 4 x 4 mesh the instrumented library is trained on (by the ``training`` module)."""
        return _NativeMeshBuild(f"{self.name}_training", native_top_verilog(LinkPlan(4, 4), self.profile.colors),
                                _Instrumented(self), ld_flags=["-LDFLAGS", "-fprofile-generate"])

    def _train(self):
        """Run the instrumented library under the training workload, in a process of its own; the
        .gcda profiles land next to its objects."""
        log = self.dir / "training.log"
        with open(log, "w") as fh:
            p = subprocess.run([sys.executable, "-m", self.training, self.profile.name,
                                "core" if self.core else "fabric", self.name], stdout=fh, stderr=subprocess.STDOUT,
                               cwd=REPO, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])})
        if p.returncode:
            raise RuntimeError(f"the PGO training of {self.name} failed:\n" + log_tail(log))


PGO_ENV = "TESSERA_PGO"
PGO_VERSION = "pgo-2"  # part of a PGO library's key, with the training module: change it when a training changes


def pgo_requested() -> bool:
    return os.environ.get(PGO_ENV, "") not in ("", "0")


class _Instrumented:
    """A tile library as it is while it is being trained (built, not yet marked built)."""

    def __init__(self, lib: TileLibrary):
        self.dir, self.archive, self.name = lib.dir, lib.archive, lib.name
        self.key = f"{lib.key}-instrumented"

    def build(self):
        return self.dir


class LinkLibrary(_CppLibrary):
    """A ``BoundaryLink(colors, stages)`` verilated and compiled once into ``<prefix>__ALL.a``
    (C++ class ``Vlink1`` for one stage, ``VlinkL`` otherwise)."""

    what = "link library"

    def __init__(self, colors: int, stages: int):
        self.stages = stages
        self._setup(f"link_lib_c{colors}_l{stages}", verilog.convert(BoundaryLink(colors, stages), name="tessera_link"),
                    "tessera_link", "Vlink1" if stages == 1 else "VlinkL")


class _NativeMeshBuild(SimBuild):
    """A SimBuild whose build first makes sure the tile library (and any link library) exists; with
    ``ranks`` > 1, built with MPI and launched by mpiexec with the worker ranks (mpi_ranks.py)."""

    def __init__(self, name, top: str, lib: TileLibrary, waves: bool = False, links=(), ranks: int = 1,
                 ld_flags=()):
        cpp = NATIVE_CPP.read_text() + RANKS_HEADER.read_text() + AUTOPILOT_HEADER.read_text()
        links = list(links)
        self.ranks = ranks
        self.worker = RankWorker(lib, NATIVE_CPP, links, defines=_field_defines()) if ranks > 1 else None
        mpi_flags = []
        if self.worker:
            mpi = self.worker.mpi
            mpi_flags = ["-CFLAGS", f"-DTESSERA_MPI -I{mpi.include}",
                         "-LDFLAGS", f"-L{mpi.lib} -lmpi -Wl,-rpath,{mpi.lib}"]
        link_flags = ""
        if links:
            stages = max(lk.stages for lk in links)
            link_flags = " -DTESSERA_LINKS -DTESSERA_LINK_L=" + str(stages) + "".join(f" -I{lk.dir}" for lk in links)
        args = [*MESH_ARGS, str(NATIVE_CPP), str(lib.archive), *(str(lk.archive) for lk in links),
                "-CFLAGS", f"-I{lib.dir} -DTESSERA_WAVELET_BITS={WAVELET_BITS} -DTESSERA_FAULT_BITS={FAULT_BITS} "
                + " ".join(_field_defines()) + link_flags,
                # the probe and trace functions are called through ctypes from the simulator's Python
                "-LDFLAGS", "-rdynamic",
                # the tile library's key and the harness source are part of this build's key
                "-CFLAGS", f"-DTESSERA_TILE_LIB={lib.key}-{hashlib.sha256(cpp.encode()).hexdigest()[:12]}",
                *mpi_flags, *ld_flags]
        super().__init__(name, {f"{MESH_TOP}.sv": top}, MESH_TOP, waves=waves, threads=1,
                         extra_args=args, extra_vlt=MESH_VLT)
        self.lib = lib
        self.links = links

    def build(self) -> Path:
        if not self.built:
            self.lib.build()
            for lk in self.links:
                lk.build()
        if self.worker:
            self.worker.build()
        return super().build()

    def launch(self):
        return launch(self.ranks, self.worker) if self.worker else None


def check_ranks(ranks, rows: int) -> int:
    """``ranks`` as an int, or SdkError: a positive integer, at most one rank per row."""
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1:
        raise SdkError(f"ranks={ranks!r}: must be a positive integer")
    if ranks > rows:
        raise SdkError(f"ranks={ranks}: a {rows}-row mesh is cut into bands of rows, at most one rank per row")
    return ranks


def native_mesh_build(rows: int, cols: int, profile="small", core: bool = True, threads: int = 1,
                      name: str | None = None, lib: TileLibrary | None = None, wafer=None, ranks: int = 1,
                      training: str | None = None) -> SimBuild:
    """A native-mesh build of the generated R x C mesh (built on first use, then cached); with
    ``wafer`` (hdl.link_plan.Wafer) the wafer's bypass and die-boundary stages on its links; with
    ``ranks`` > 1, the mesh in bands of rows over that many MPI ranks (mpi_ranks.py). Without
    ``lib``, the tile library is ``TileLibrary(profile, core, training=training)`` (profile-guided
    when TESSERA_PGO is set and ``training`` names a workload)."""
    check_mesh_shape(rows, cols)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads={threads!r}: must be a positive integer")
    check_ranks(ranks, rows)
    prof = get_profile(profile)
    lib = lib or TileLibrary(prof, core, training=training)
    plan = LinkPlan(rows, cols, wafer)
    links = [LinkLibrary(prof.colors, s) for s in sorted({1, plan.stages})] if plan.chains else []
    tag = plan.wafer.tag()
    name = name or f"native_mesh_{rows}x{cols}_{prof.name}" + ("" if core else "_fabric") + \
        (f"_{tag}" if tag else "") + (f"_t{threads}" if threads > 1 else "") + ("_mpi" if ranks > 1 else "")
    return _NativeMeshBuild(name, native_top_verilog(plan, prof.colors, threads), lib, links=links, ranks=ranks)
