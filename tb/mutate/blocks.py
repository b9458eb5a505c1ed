"""The blocks `make mutate` measures: which sources are mutated, which tests must kill the mutants,
and which configurations are elaborated to tell an equivalent mutant from a live one.

A ``Block`` names:
    files      the mutated sources, relative to ``root`` (the hardware-building code of each, see
               operators.py; ``extra`` adds module-level names such as a decode table)
    tests      the kill tests, run in this order by pytest with -x: the Amaranth-simulator unit
               tests of the block (seconds each). The Verilator regression is not run per mutant:
               one mutated build costs 1-2 minutes on the reference machine.
    configs    (name, module, expression): the designs whose RTLIL decides equivalence, e.g. every
               profile of the router; the expression is evaluated in the module's namespace. A
               mutant is equivalent only if its RTLIL is identical in all of them, or Yosys proves
               it equivalent in each of ``prove`` (the names of configs small enough to prove)
    prove      configs Yosys is run on (default: all). The router's and the PE's ``wse`` profile is
               the ``small`` one with more colors (and, for the PE, more SRAM and micro-threads):
               the generators build per-color and per-thread copies of one circuit, so a proof on
               ``small`` and ``fpga`` (5 and 8 colors) covers it by symmetry, while a proof on the
               24-color router does not finish in minutes
    package    the package copied into the overlay (the mutant's file replaces its original)

``bridge_format.py`` is not mutated: it is the frame specification that the bridge, its tests and
every host import alike, so a mutant there changes the specification and its checker together.

``DOCUMENTED_EQUIVALENT`` lists mutants shown equivalent by argument where Yosys' induction does
not close (matched on file, operator, original and mutated text), each with its reason.

Interface:
    Block, BLOCKS, BLOCK_NAMES, DOCUMENTED_EQUIVALENT, documented_reason(mutant)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "BLOCKS", "BLOCK_NAMES", "DOCUMENTED_EQUIVALENT", "documented_reason", "REPO"]

REPO = Path(__file__).resolve().parents[2]

_PROFILES = ("small", "fpga", "wse")


@dataclass(frozen=True)
class Block:
    name: str
    files: tuple[str, ...]
    tests: tuple[str, ...]
    configs: tuple[tuple[str, str, str], ...]
    extra: tuple[str, ...] = ()
    package: str = "hdl"
    root: Path = REPO
    # pytest's own flags beyond -x -q (e.g. -k to pick the block's tests out of a shared file)
    pytest_args: tuple[str, ...] = field(default=())
    # mutants run by default: None = the command line's sample size, 0 = every mutant
    sample: int | None = None
    prove: tuple[str, ...] | None = None


BLOCKS: dict[str, Block] = {
    "router": Block(
        name="router",
        # the router and its units (route table, switch state, input queue, head, arbiter, drop
        # counter, error flags); the units' own tests first: they kill most of their mutants in seconds
        files=("hdl/router.py", "hdl/router_units.py"),
        extra=("any_of", "popcount"),
        tests=("tests/test_router_units.py", "tests/test_router_unit.py"),
        configs=tuple((f"router-{p}", "hdl.router", f"Router({p!r})") for p in _PROFILES),
        prove=("router-small", "router-fpga"),
    ),
    "mgmt": Block(
        name="mgmt",
        files=("hdl/mgmt.py",),
        tests=("tests/test_mgmt_unit.py",),
        configs=(("mgmt", "hdl.mgmt", "MgmtLoader()"),),
        sample=0,  # small enough to run every mutant
    ),
    "fpu": Block(
        name="fpu",
        files=("hdl/fpu.py",),
        # the op decode table and the window layout are the datapath's own constants
        extra=("_DECODE", "_WIN", "_ADD_TOP", "_P_LSB", "_SUM", "_NN", "_KEEP_LSB"),
        tests=("tests/test_fpu_unit.py",),
        configs=(("fplane", "hdl.fpu", "FPLane()"),),
    ),
    "bridge": Block(
        name="bridge",
        files=("hdl/host_bridge.py", "hdl/uart.py"),
        tests=("tests/test_fpga_unit.py",),
        configs=(("bridge-2x3-small", "hdl.host_bridge", "HostBridge(2, 3, 'small')"),
                 ("bridge-4x1-fpga", "hdl.host_bridge", "HostBridge(4, 1, 'fpga')"),
                 ("uart-rx-5", "hdl.uart", "UARTRx(5)"), ("uart-tx-5", "hdl.uart", "UARTTx(5)"),
                 ("uart-rx-217", "hdl.uart", "UARTRx(217)"), ("uart-tx-217", "hdl.uart", "UARTTx(217)")),
    ),
    "pe": Block(
        name="pe",
        files=tuple(sorted(str(p.relative_to(REPO)) for p in (REPO / "hdl" / "pe").glob("*.py")
                           if p.name != "__init__.py")),
        tests=("tests/test_pe_components.py", "tests/test_pe_unit.py"),
        configs=tuple((f"pe-{p}", "hdl.pe", f"PE({p!r})") for p in _PROFILES),
    ),
}
BLOCK_NAMES = tuple(BLOCKS)

# (block, file, operator, original, mutated) -> reason
DOCUMENTED_EQUIVALENT: dict[tuple[str, str, str, str, str], str] = {
    ("mgmt", "hdl/mgmt.py", "drop_term", "self.wav.valid & selected", "(self.wav.valid)"):
        "a data wavelet on an unselected tile then bumps addr and reloads cfg/load addr and data, but "
        "both we stay 0 (the last If clears them unless selected), the next header reloads addr and "
        "selected, and addr/data are read only with we (docs/router.md, docs/pe.md load bus): no write "
        "differs",
    ("pe", "hdl/pe/ports.py", "drop_assign", "ld.gnt.eq(wr.gnt)", "(removed)"):
        "the load decoder never reads its write grant (hdl/pe/loadbus.py drives req, addr, data and "
        "mask only: the load bus has the write port first and every bank), so the grant is a dangling "
        "wire; Yosys is not tried because the difference reaches the PE top, which holds the memories",
    ("pe", "hdl/pe/vcontexts.py", "stuck_at", "act_vec & ~(1 << k)", "act_vec & ~(1 << k) with bit 0 stuck at 1"):
        "bit 0 of older[k] is context 0 in flight when k launched: for k = 0 the held-color mux skips "
        "j = k, and a context k > 0 launches only while context 0 is busy (synchronous ops take "
        "context 0, asynchronous ones the lowest free one: hdl/pe/core.py, vcontexts.py free), so the "
        "bit is 1 either way; Yosys cannot see the invariant, which spans the core",
    ("pe", "hdl/pe/vpipe.py", "stuck_at", "p.f_valid & ~is_int", "p.f_valid & ~is_int with bit 0 stuck at 1"):
        "the lanes' in_valid only feeds their out_valid, which the pipeline never reads (it tracks its "
        "own stage valids, p.dv): the lane's result for a bubble is computed and dropped either way",
}


def documented_reason(block: str, mutant) -> str | None:
    """The documented reason ``mutant`` of ``block`` is equivalent, or None."""
    return DOCUMENTED_EQUIVALENT.get((block, mutant.file, mutant.operator, mutant.original, mutant.mutated))
