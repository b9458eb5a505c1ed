"""The SDK's training workload for a profile-guided tile library (sdk/builds/native_mesh.py
``TileLibrary(pgo=True, training=TRAINING)``; the Runtime's Verilator engines and the testbenches
name it, so ``TESSERA_PGO=1`` trains their tile libraries on it).

Run by ``TileLibrary._build`` in a process of its own, between the instrumented compile and the
final one: a 4 x 4 native mesh linked with the instrumented library streams 600 wavelets into every
row (PE tiles: the row-echo kernel, routing, multicast and tasks; fabric tiles: straight west to
east) and, for PE tiles, runs GEMM f16, GEMM f32 and sparse-GEMV jobs. Each simulator process
writes its branch and call profiles (.gcda) next to the library's objects when it exits. The
training build's folder is removed afterwards.

Usage: python -m sdk.pgo_training PROFILE core|fabric LIBRARY_NAME
"""

from __future__ import annotations

import shutil
import sys

from golden.routing import ColorRoute
from hdl.mesh import EdgeLink
from hdl.wavelet import Port

from . import routes
from .builds.native_mesh import TileLibrary
from .cases import gemm_case, gemv_case, run_cases
from .engines.sim import PGO_TRAINING as TRAINING  # this module's name, as TileLibrary(training=) takes it
from .kernels import row_echo
from .layout import Layout
from .runtime import Runtime

__all__ = ["TRAINING", "main"]


def main(argv=None) -> int:
    profile, kind, name = (argv if argv is not None else sys.argv[1:])
    lib = TileLibrary(profile, kind == "core", name=name, pgo=True, training=TRAINING)
    train = lib.training_build()
    rows = cols = 4
    lay = row_echo.layout(rows, cols, lib.profile.name)
    if not lib.core:  # fabric tiles run no programs: the routes alone carry the stream east
        lay = Layout(rows, cols, lib.profile.name)
        west_to_east = ColorRoute.simple([Port.W], [Port.E])
        lay.route(lay.color("in", 1), routes.custom({(r, c): west_to_east for r in range(rows) for c in range(cols)}))
    with Runtime(lay, build=train, run_name="pgo-stream") as rt:
        for r in range(rows):
            rt.send(EdgeLink(Port.W, r), 1, list(range(600)))
        rt.run("idle")
    if lib.core:
        run_cases([gemm_case(rows, cols, 24, 32, 20, "f16", lib.profile.name, seed=1),
                   gemm_case(rows, cols, 16, 12, 16, "f32", lib.profile.name, seed=2),
                   gemv_case(rows, cols, 40, 48, 0.3, lib.profile.name, seed=3)],
                  build=train, run_name="pgo-jobs")
    shutil.rmtree(train.dir, ignore_errors=True)  # kept when training fails: its build.log says why
    return 0


if __name__ == "__main__":
    sys.exit(main())
