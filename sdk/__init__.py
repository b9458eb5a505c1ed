"""Tessera SDK: everything a program for the mesh needs, none of it test-bench code.

    from sdk import Layout, Runtime, Until, routes

Layers (docs/architecture.md): ``sdk`` imports ``hdl`` (formats, profiles, the mesh generator)
and ``golden`` (the golden engine's models) and nothing else of the project's.

    sdk.layout       Layout, Region, Symbol: programs, placement, colors, routes, all checked first
    sdk.routes       route patterns (broadcasts, merge, switch-sequenced read-out, chains, ...)
    sdk.runtime      Runtime: load, h2d/d2h, send/receive, launch, run — on any engine
    sdk.engines      the engines, host side: Verilator meshes (native / hierarchical / flat), the
                     golden model, the FPGA bridge
    sdk.builds       simulator builds: the Verilator builds and their cache, the native mesh, MPI ranks
    sdk.cosim        the simulator side (cocotb): job server, edge harness, autopilot, board server
    sdk.collectives  broadcast, scatter, gather, reduce, all-reduce over rows, columns, the mesh
    sdk.kernels      GEMM, sparse GEMV, the math library, ...: program, layout, host code and decode
                     together (the AXPY worked example is demo/axpy.py)
    sdk.asm          the PE assembler;   sdk.loader   management streams (loading through the edge)
    sdk.records      RunResult, MeshStatus, Fault, KernelRecord
    sdk.errors       SdkError, the root of the SDK's errors, and its subclasses (docs/programming.md)
"""

from . import routes
from .engines.base import Until
from .errors import AsmError, DeviceError, EngineUnavailable, KernelError, LayoutError, LoadError, SdkError
from .layout import Color, Layout, Region, Symbol
from .records import Fault, KernelRecord, MeshStatus, RunResult
from .runtime import Runtime, make_engine

__all__ = ["Layout", "Region", "Symbol", "Color", "Runtime", "make_engine", "Until", "routes",
           "Fault", "MeshStatus", "RunResult", "KernelRecord",
           "SdkError", "LayoutError", "KernelError", "AsmError", "LoadError", "EngineUnavailable", "DeviceError"]
