"""Where the builds' files are: the repository, the build folder, the native mesh's C++ sources.

Interface:
    REPO                the repository root
    BUILD               build/ under it: Verilator builds (build/models/<name>-<key>), runs, tool caches;
                        benches and demos write their figures and pictures under it too
    NATIVE_CPP          native_mesh.cpp: the native mesh's tiles and wiring (sdk/builds/native_mesh.py)
    RANKS_HEADER        native_mesh_ranks.h: the mesh in bands of rows on MPI ranks (mpi_ranks.py)
    AUTOPILOT_HEADER    native_mesh_autopilot.h: the edge autopilot's C++ (sdk/cosim/autopilot.py)
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO", "BUILD", "NATIVE_CPP", "RANKS_HEADER", "AUTOPILOT_HEADER"]

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
NATIVE_CPP = Path(__file__).resolve().parent / "native_mesh.cpp"
RANKS_HEADER = NATIVE_CPP.parent / "native_mesh_ranks.h"
AUTOPILOT_HEADER = NATIVE_CPP.parent / "native_mesh_autopilot.h"
