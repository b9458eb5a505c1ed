"""Shared pytest fixtures: Verilator models built once per configuration (see sdk/engines/verilator.py)."""

from __future__ import annotations

import functools

import pytest

from sdk.engines.models import mesh_model
from sdk.engines.verilator import Model, waves_requested

_UNGROUPED = ("--dist loadgroup did not tag this test's xdist_group "
              "(pytest and pytest-xdist disagree; see the pin in pyproject.toml)")


def pytest_runtest_setup(item):
    """Fail grouped tests when ``--dist loadgroup`` is asked for but xdist could not tag the groups.

    Tests of one ``xdist_group`` share one simulator launch per worker (cached results); when the
    grouping silently stops (pytest 9.2 with pytest-xdist 3.8 did), two workers launch the same
    model at once and clobber each other's results."""
    if getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group") \
            and "@" not in item.nodeid:
        raise pytest.fail(_UNGROUPED, pytrace=False)


@functools.lru_cache(maxsize=None)
def router_mesh_model(rows: int, cols: int, profile: str) -> Model:
    """The router-only mesh fixture; built on first use, then reused (also across xdist workers)."""
    from hdl.router_mesh import emit_router_mesh

    waves = waves_requested()
    return Model(f"router_mesh_{rows}x{cols}_{profile}" + ("_waves" if waves else ""),
                 emit_router_mesh(rows, cols, profile), "router_mesh", waves=waves)


def run_cocotb(model: Model, module: str, testcase: str, **config):
    """Run one cocotb test; with TESSERA_WAVES=1 record an FST and print where it is."""
    waves = waves_requested()
    run_dir = model.run(module, testcase=testcase, config=config, waves=waves,
                        run_name=f"{testcase}-" + "-".join(f"{k}{v}" for k, v in sorted(config.items())))
    if waves:
        print(f"\nwaveform: {run_dir / 'dump.fst'}")
    return run_dir


@functools.lru_cache(maxsize=None)
def tile_mesh_model(rows: int, cols: int, profile: str, core: bool = True, threads: int = 1) -> Model:
    """A generated tile mesh (hdl/mesh.py); ``core=False`` = fabric tiles (router + loader only).

    The native-mesh model, or with TESSERA_WAVES=1 the flat Verilog one with FST tracing (every
    tile's signals in the waveform); see sdk/engines/models.py."""
    return mesh_model(rows, cols, profile, core, waves=waves_requested(), threads=threads)


@functools.lru_cache(maxsize=None)
def verilog_mesh_model(rows: int, cols: int, profile: str, core: bool = True) -> Model:
    """The generated Verilog mesh top itself (the tile a Verilator hierarchical block), to check that
    it behaves exactly as the native-mesh model the other tests use."""
    return mesh_model(rows, cols, profile, core, engine="hierarchical")
