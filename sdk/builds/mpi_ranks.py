"""MPI ranks for the native mesh: the MPI of the ``mpi`` extra, the worker rank program, the launch.

A native mesh run on N ranks (docs/mesh.md, "MPI ranks") is one ``mpiexec`` job: rank 0 is the
simulator (the Verilator mesh top with cocotb and the testbench or the SDK's job server), ranks
1..N-1 run ``tessera_mesh_rank``, the same C++ (sdk/builds/native_mesh.cpp and
native_mesh_ranks.h) built as a program with the same tile and link libraries. Everything comes from
PyPI: ``mpi4py`` and the ``mpich`` wheel (``pip install -e .[mpi]``; the Makefile targets that run
ranks install it). The C++ uses the MPI C API of that wheel's ``libmpi``; mpi4py, which wraps the
same library, is how Python checks the installation and names the library in reports.

Interface:
    MpiInstall.find() -> MpiInstall     .include, .lib, .mpiexec, .version; MpiMissing (an
                                        EngineUnavailable) if absent
    RankWorker(lib, cpp, links=(), defines=())   BuiltOnce: the ``tessera_mesh_rank`` program (.exe),
                                        built from native_mesh.cpp ``cpp``
    launch(ranks, worker, hostfile=None) -> (prefix, suffix)   mpiexec argument lists around the
                                        simulator's command (cocotb's SIM_CMD_PREFIX / _SUFFIX)
    HOSTFILE_ENV                        "TESSERA_MPI_HOSTFILE": a hydra host file for every launch
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hdl.fault import FAULT_BITS
from hdl.wavelet import WAVELET_BITS

from ..errors import EngineUnavailable
from .paths import BUILD, RANKS_HEADER
from .verilator import BuiltOnce, log_tail, setup_verilator, tool_versions

__all__ = ["MpiInstall", "MpiMissing", "RankWorker", "launch", "HOSTFILE_ENV"]

HOSTFILE_ENV = "TESSERA_MPI_HOSTFILE"


class MpiMissing(EngineUnavailable):
    """The ``mpi`` extra (mpi4py and the mpich wheel) is not installed."""


@dataclass(frozen=True)
class MpiInstall:
    include: Path
    lib: Path
    mpiexec: Path
    version: str

    @classmethod
    def find(cls) -> MpiInstall:
        hint = "MPI ranks need the mpi extra: `pip install -e .[mpi]` (`make sim RANKS=N` installs it)"
        try:
            import mpi4py
        except ImportError:
            raise MpiMissing(f"mpi4py is not installed. {hint}") from None
        mpi4py.rc.initialize = False  # only asking for the library's name: no MPI_Init in this process
        mpi4py.rc.finalize = False
        from mpi4py import MPI

        prefix = Path(sys.prefix)
        inst = cls(prefix / "include", prefix / "lib", prefix / "bin" / "mpiexec",
                   " ".join(MPI.Get_library_version().split()[:3]))
        for need in (inst.include / "mpi.h", inst.lib / "libmpi.so", inst.mpiexec):
            if not need.exists():
                raise MpiMissing(f"{need} is missing (the mpich wheel installs it). {hint}")
        return inst


class RankWorker(BuiltOnce):
    """``tessera_mesh_rank``: native_mesh.cpp built as an MPI worker program with the tile library
    (and link libraries) of a native-mesh build; cached by their keys, the C++ and the tool versions."""

    def __init__(self, lib, cpp: Path, links=(), defines=()):
        self.mpi = MpiInstall.find()
        self.lib, self.links = lib, list(links)
        self.cpp = cpp
        self.defines = list(defines)
        h = hashlib.sha256(json.dumps([lib.key, [lk.key for lk in self.links], self.cpp.read_text(),
                                       RANKS_HEADER.read_text(), self.defines, self.mpi.version,
                                       tool_versions()]).encode())
        self.key = h.hexdigest()[:16]
        self.dir = BUILD / "models" / f"mesh_rank_{lib.name}-{self.key}"

    @property
    def exe(self) -> Path:
        return self.dir / "tessera_mesh_rank"

    def build(self) -> Path:
        self.lib.build()
        for lk in self.links:
            lk.build()
        return super().build()

    def _build(self):
        root = setup_verilator()
        inc = root / "include"
        flags = ["-std=c++20", "-O2", "-w", f"-I{inc}", f"-I{inc / 'vltstd'}", f"-I{self.lib.dir}",
                 f"-I{self.mpi.include}", "-DTESSERA_MPI", "-DTESSERA_RANK_WORKER",
                 f"-DTESSERA_WAVELET_BITS={WAVELET_BITS}", f"-DTESSERA_FAULT_BITS={FAULT_BITS}",
                 "-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TIMING=0", "-DVM_TRACE=0", "-DVM_TRACE_FST=0",
                 "-DVM_TRACE_VCD=0", *self.defines]
        if self.links:
            flags += ["-DTESSERA_LINKS", f"-DTESSERA_LINK_L={max(lk.stages for lk in self.links)}",
                      *(f"-I{lk.dir}" for lk in self.links)]
        objs = []
        with open(self.dir / "build.log", "w") as log:
            for src in (self.cpp, inc / "verilated.cpp", inc / "verilated_threads.cpp"):
                obj = self.dir / (src.stem + ".o")
                p = subprocess.run(["g++", *flags, "-c", str(src), "-o", str(obj)], stdout=log,
                                   stderr=subprocess.STDOUT, cwd=self.dir)
                if p.returncode:
                    break
                objs.append(str(obj))
            else:
                p = subprocess.run(["g++", "-o", str(self.exe), *objs, str(self.lib.archive),
                                    *(str(lk.archive) for lk in self.links), f"-L{self.mpi.lib}", "-lmpi",
                                    f"-Wl,-rpath,{self.mpi.lib}", "-lpthread"],
                                   stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        if p.returncode or not self.exe.exists():
            raise RuntimeError("build of the MPI worker tessera_mesh_rank failed:\n" + log_tail(self.dir / "build.log"))


def launch(ranks: int, worker: RankWorker, hostfile: str | None = None) -> tuple[list, list]:
    """mpiexec around the simulator: rank 0 the simulator, ranks 1..N-1 the worker program (MPMD)."""
    mpi = worker.mpi
    hostfile = hostfile or os.environ.get(HOSTFILE_ENV) or None
    prefix = [str(mpi.mpiexec)] + (["-f", str(hostfile)] if hostfile else []) + ["-n", "1"]
    suffix = [":", "-n", str(ranks - 1), str(worker.exe)]
    return prefix, suffix
