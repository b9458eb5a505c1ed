"""cocotb tests of a generated tile mesh (hdl/mesh.py): everything through the mesh edge.

``front_door_routing``: loads route tables through the west edge on the management color
(sdk/loader.py builds the streams), checks the management traffic that leaves the east edge against
the golden routing model, then runs edge-to-edge multicast patterns on five colors under random
idles and backpressure and checks every edge exit against the golden model. Records the load time
in cycles. Works for PE tiles and fabric-only tiles (the config says which).

``front_door_program``: routes and one program broadcast through the west edge; results checked at
the east edge. ``clock_run``: simulation speed of a streaming mesh.

``wafer_latency``: straight W -> E routes on every row and N -> S routes on every column, loaded
through the west edge; one wavelet at a time on an idle mesh, its cycles from the edge it enters
to the edge it leaves against the golden model's zero-load latency, given the wafer's extra
cycles per link (config ``hop_extra``: [row, col, side, cycles] items, hdl/link_plan.py): on a
repaired mesh each bypassed tile and die stage shows up where the golden model says.

``fault_report``: one PE error (PE mesh) or a loader and a router error (fabric mesh) provoked
through the edge; the mesh top's ``row_fault`` words must name the tile and the error, with the
chain's latency, and nothing for the other rows (hdl/fault.py, docs/mesh.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from collections import Counter

import cocotb

from golden.route_patterns import edge_patterns, edge_to_edge
from golden.routing import MeshRoutes, Port, simulate, zero_load_latency
from hdl.fault import FAULT, FAULT_BITS
from hdl.mgmt import MGMT_BROADCAST, MgmtTarget, mgmt_header
from hdl.profiles import get_profile
from hdl.router import RouterError
from hdl.wavelet import SwitchCmd
from sdk.builds.verilator import tb_config
from sdk.cosim.autopilot import Autopilot
from sdk.cosim.edge import load_through_west_edge
from sdk.kernels import row_echo
from sdk.loader import MeshLoader, management_routes
from tb.fabric import FabricHarness
from tb.programs import faulty_pe_setup
from tb.scoreboard import compare_fabric


def _edge_only(exit_):
    return exit_[1] != Port.RAMP


@cocotb.test()
async def front_door_routing(dut):
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    rng = random.Random(cfg.get("seed", 1))
    M = prof.mgmt_color
    mesh, sources = edge_patterns(rows, cols, prof.colors, avoid=(M,))
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)
    h = FabricHarness(dut, rows, cols, prof.colors, rng)
    await h.reset()

    # 1. load the routes through the west edge
    load_cycles = await load_through_west_edge(h, loader.streams(), prof.mgmt_color)
    reset_state = management_routes(MeshRoutes(rows, cols, prof.colors), prof)
    echo = compare_fabric(simulate(reset_state, h.golden_keys(h.injections())), h.golden_keys(h.observed()),
                          observable=_edge_only)
    assert all(v == 0 for v in h.row_status()["err"]), f"error after loading: {h.row_status()}"
    h.clear()

    # 2. traffic on the loaded routes
    golden_mesh = management_routes(copy.deepcopy(mesh), prof)
    h.start_noise(idle_prob=cfg.get("idle", 0.2), stall_prob=cfg.get("stall", 0.2))
    total = cfg.get("wavelets", 20_000)
    seq = {}
    for n in range(total):
        link, color = sources[n % len(sources)]
        k = seq.get((link, color), 0)
        seq[(link, color)] = k + 1
        h.drivers[h.at(*link)].send(color, ((n % len(sources)) << 24 | k << 2) & 0xFFFFFFFF)
    cycles = await h.run_until_idle(max_cycles=100 * total)
    summary = compare_fabric(simulate(golden_mesh, h.golden_keys(h.injections())), h.golden_keys(h.observed()),
                             observable=_edge_only)
    status = h.row_status()
    assert all(v == 0 for v in status["err"]), f"error flags raised: {status}"
    faults = row_faults(dut, rows)
    assert faults == [0] * rows, f"fault words without an error: {faults}"
    report = {"rows": rows, "cols": cols, "profile": prof.name, "core": cfg.get("core", True), "row_fault": faults,
              "load_wavelets": sum(len(s) for s in loader.streams().values()),
              "load_cycles": load_cycles, "mgmt_echo_checked": echo["wavelets_checked"],
              "wavelets_injected": total, "deliveries_checked": summary["wavelets_checked"], "cycles": cycles}
    if cfg.get("report"):
        with open(cfg["report"], "w") as fh:
            json.dump(report, fh, indent=2)
    dut._log.info("tile mesh: %s", report)


@cocotb.test()
async def clock_run(dut):
    """Simulation speed: W -> E routes loaded through the management path, then every row streams
    wavelets across the mesh for ``cycles`` cycles. Reports the wall time of that stretch."""


    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols, cycles = cfg["rows"], cfg["cols"], cfg.get("cycles", 2000)
    color = 0 if prof.mgmt_color != 0 else 1
    mesh = MeshRoutes(rows, cols, prof.colors)
    sources = edge_to_edge(mesh, color)
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)
    h = FabricHarness(dut, rows, cols, prof.colors, random.Random(1))
    # progress about every 30 s of wall time at ~150,000 PE-cycles/s (silent on small meshes)
    every = max(1, 5_000_000 // (rows * cols)) if rows * cols >= 16_384 else 0
    await h.reset()
    load_cycles = await load_through_west_edge(h, loader.streams(), prof.mgmt_color, log=dut._log, progress_every=every)
    load_wavelets = sum(len(s) for s in loader.streams().values())
    h.clear()
    for link, c in sources:
        for k in range(cycles):
            h.drivers[h.at(*link)].send(c, k << 2)
    # On a native mesh the edge autopilot plays the harness's cycles in C++ (sdk/cosim/autopilot.py):
    # the same run, without Python per cycle; TESSERA_AUTOPILOT=0 steps every cycle in Python.
    auto = Autopilot(dut, h)
    t0 = time.monotonic()
    start, k = h.cycle, 0
    while k < cycles:
        await h.step()
        k = h.cycle - start
        if every and k % every == 0:
            dut._log.info("streaming: cycle %d of %d, %.0f PE-cycles/s", k, cycles,
                          k * rows * cols / (time.monotonic() - t0))
        if auto.eligible() and k < cycles:
            r = await auto.run("cycles", start, n_cycles=cycles, progress=every)
            k = h.cycle - start
            if r.reason == "progress":
                dut._log.info("streaming: cycle %d of %d, %.0f PE-cycles/s", k, cycles,
                              k * rows * cols / (time.monotonic() - t0))
    wall = time.monotonic() - t0
    observed = h.observed()
    delivered = sum(len(v) for v in observed.values())
    assert delivered >= rows * (cycles - cols - 8), f"only {delivered} wavelets crossed the mesh"
    # what left the mesh, link by link in arrival order, and the rows' status: equal digests are the
    # same run (engines, threads and MPI ranks are compared on it)
    digest = hashlib.sha256(repr((sorted((str(k), v) for k, v in observed.items()), h.row_status(),
                                  h.row_faults())).encode()).hexdigest()
    with open(cfg["report"], "w") as fh:
        json.dump({"cycles": cycles, "wall_seconds": wall, "delivered": delivered, "load_cycles": load_cycles,
                   "load_wavelets": load_wavelets, "digest": digest}, fh)


@cocotb.test()
async def front_door_program(dut):
    """End to end through the edge: routes and one program (broadcast) are loaded through the west
    edge; each input wavelet is row-broadcast to every PE, whose data task sends payload + 1 east
    along the row; the east edge must receive exactly cols copies of x + 1 for every x."""


    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    loader = MeshLoader(rows, cols, prof)
    row_echo.layout(rows, cols, prof.name).load_into(loader, zero=False)  # a new simulation: memories are 0
    streams = loader.streams()
    h = FabricHarness(dut, rows, cols, prof.colors, random.Random(cfg.get("seed", 1)))
    await h.reset()
    load_cycles = await load_through_west_edge(h, streams, prof.mgmt_color)
    h.clear()
    h.start_noise(idle_prob=0.2, stall_prob=0.2)
    n = cfg.get("per_row", 50)
    for link, payloads in row_echo.inputs(rows, n).items():
        for p in payloads:
            h.drivers[link].send(1, p)
    cycles = await h.run_until_idle(quiet=64)
    for link, want in row_echo.expected(rows, cols, n).items():
        got = Counter(h.monitors[link].received)
        assert got == want, f"{link}: east edge got {sum(got.values())} wavelets, want {sum(want.values())}; " \
                            f"missing {list((want - got).elements())[:4]} extra {list((got - want).elements())[:4]}"
    status = h.row_status()
    assert not any(status["err"]) and not any(status["halted"]), status
    assert row_faults(dut, rows) == [0] * rows, f"fault words without an error: {row_faults(dut, rows)}"
    dut._log.info("front-door program: %d wavelets loaded in %d cycles; %d results checked in %d cycles",
                  sum(len(s) for s in streams.values()), load_cycles, rows * cols * n, cycles)


@cocotb.test()
async def wafer_latency(dut):
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    hop_extra = {(r, c, side): n for r, c, side, n in cfg.get("hop_extra", [])}
    M = prof.mgmt_color
    across, down = [c for c in range(prof.colors) if c != M][:2]
    mesh = MeshRoutes(rows, cols, prof.colors)
    sources = edge_to_edge(mesh, across, Port.W) + edge_to_edge(mesh, down, Port.N)
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)
    h = FabricHarness(dut, rows, cols, prof.colors, random.Random(1))
    await h.reset()
    await load_through_west_edge(h, loader.streams(), M)
    h.clear()
    golden_mesh = management_routes(copy.deepcopy(mesh), prof)
    measured = []
    for (pe, port), color in sources:
        [(exit_, want)] = zero_load_latency(golden_mesh, pe, port, color, hop_extra=hop_extra).items()
        drv, mon = h.drivers[h.at(pe, port)], h.monitors[h.at(*exit_)]
        drv.send(color, 0x5A5A0000 | len(measured) << 2)
        sent_at = None
        for _ in range(50 * (rows + cols) + 100):
            before = drv.sent
            await h.step()
            if sent_at is None and drv.sent > before:
                sent_at = h.cycle
            if mon.received:
                break
        assert mon.received, f"the wavelet from {pe} {port.name} never left at {exit_}"
        got = h.cycle - sent_at
        assert got == want, f"{pe} {port.name} -> {exit_}: {got} cycles, the golden model says {want}"
        measured.append({"entry": [list(pe), port.name], "exit": [list(exit_[0]), exit_[1].name], "cycles": got})
        h.clear()
    status = h.row_status()
    assert all(v == 0 for v in status["err"]), f"error flags raised: {status}"
    if cfg.get("report"):
        with open(cfg["report"], "w") as fh:
            json.dump({"rows": rows, "cols": cols, "latencies": measured}, fh, indent=2)


def row_faults(dut, rows) -> list[int]:
    """The mesh top's ``row_fault`` word of every row (hdl/fault.py's FaultInfo, packed)."""

    v = dut.row_fault.value
    v = v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)
    return [(v >> (r * FAULT_BITS)) & ((1 << FAULT_BITS) - 1) for r in range(rows)]


@cocotb.test()
async def fault_report(dut):
    """The per-row fault chain (hdl/fault.py, docs/mesh.md), observed only at the mesh top.

    PE mesh (``core``): every PE is started through the west edge; one PE (``fault_pe``, default
    row 1, column cols - 2) also gets a program whose task 3 stores beyond the SRAM. That row's
    ``row_fault`` must name the PE's column and carry the PE status word the golden PE model
    predicts (SRAM_RANGE, task 3, the PC of the store, halted), no router or loader error; every
    other row reports valid = 0 throughout.

    Fabric mesh (``core=False``, rows >= 3): a malformed management header (payload[1:0] != 0) into
    row 0 sets the loader error of every tile of the row: row 0 must report column 0 (the
    westernmost) with mgmt_error and never another column; a wavelet on a color with no route
    through the south edge at column ``cols // 2`` gives that bottom-row tile RX_VIOLATION: the
    bottom row reports that column, those router flags and pe_status 0; the rows between report
    valid = 0.

    Both: ``row_fault`` is 0 out of reset and until the error; it turns valid exactly cols - c
    cycles after ``row_err`` rises for a fault in column c (one register per tile), and stays. The
    per-cycle trace of (row_err, row_halted, row_fault) is written to ``report`` so that two
    models can be compared cycle for cycle."""

    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols, core = cfg["rows"], cfg["cols"], cfg.get("core", True)
    M = prof.mgmt_color
    h = FabricHarness(dut, rows, cols, prof.colors, random.Random(cfg.get("seed", 1)))
    await h.reset()
    await h.step()
    assert row_faults(dut, rows) == [0] * rows, f"row_fault out of reset: {row_faults(dut, rows)}"

    expect = {}  # row -> (column, {field: value}) of the fault it must report
    if core:
        fr, fc = cfg.get("fault_pe", (1, cols - 2))
        streams, fields = faulty_pe_setup(rows, cols, prof, (fr, fc))
        expect[fr] = (fc, fields)
    else:
        assert rows >= 3, "the fabric case needs a clean row between the two faulty ones"
        # payload[1:0] = RESERVED: a switch command (the router treats it as NONE), not a header
        bad_header = mgmt_header(MGMT_BROADCAST, MgmtTarget.ROUTER, 0) | SwitchCmd.RESERVED
        streams = {0: [(M, bad_header, 1)]}
        color = 0 if M != 0 else 1  # no route out of reset
        h.drivers[h.at((rows - 1, cols // 2), Port.S)].send(color, 0xC0FFEE, 0)
        expect[0] = (0, {"pe_status.code": 0, "pe_status.halted": 0, "pe_status.task": 0, "pe_status.pc": 0,
                         "router_errors": 0, "mgmt_error": 1})
        expect[rows - 1] = (cols // 2, {"pe_status.code": 0, "pe_status.halted": 0, "pe_status.pc": 0,
                                        "router_errors": 1 << RouterError.RX_VIOLATION, "mgmt_error": 0})
    for r, stream in streams.items():
        for w in stream:
            h.drivers[h.at((r, 0), Port.W)].send(*w)

    # run, recording every cycle's row status and fault words, until the mesh is quiet and the
    # fault words have not changed for a while
    trace, start = [], h.cycle
    last = None
    last_change = h.cycle
    quiet = 4 * cols + 32
    while h.pending or h.cycle - h.last_progress < quiet or h.cycle - last_change < quiet:
        await h.step()
        st = h.row_status()
        now = (st["err"], st["halted"], row_faults(dut, rows))
        if now != last:
            trace.append([h.cycle - start, *now])
            last, last_change = now, h.cycle
        assert h.cycle - start < 20_000, "the mesh did not settle"

    def first(cond, r):
        return next((t[0] for t in trace if cond(t, r)), None)

    final = [FAULT.unpack(w) for w in last[2]]
    for r in range(rows):
        if r not in expect:
            assert all(t[3][r] == 0 for t in trace), f"row {r} has no fault, reported {[t[3][r] for t in trace]}"
            assert last[0][r] == 0, f"row {r}: row_err without a fault"
            continue
        col, fields = expect[r]
        got = final[r]
        assert got["valid"] == 1 and got["col"] == col, f"row {r}: fault word {got}, want column {col}"
        assert {k: got[k] for k in fields} == fields, f"row {r}: fault word {got}, want {fields}"
        assert last[0][r] == 1, f"row {r}: fault reported without row_err"
        if core:
            assert last[1][r] == 1, f"row {r}: the faulty PE did not halt"
        t_err = first(lambda t, r: t[1][r], r)
        t_fault = first(lambda t, r: t[3][r] & 1, r)
        assert t_err is not None and t_fault - t_err == cols - col, (
            f"row {r}: row_err at cycle {t_err}, row_fault valid at {t_fault}: want {cols - col} cycles later")
        reported = [t[3][r] for t in trace if t[0] >= t_fault]
        assert all(FAULT.get(w, "valid") and FAULT.get(w, "col") == col for w in reported), \
            f"row {r}: the fault word went away or named another column: {[FAULT.unpack(w) for w in reported]}"
        assert all(t[3][r] == 0 for t in trace if t[0] < t_fault), f"row {r}: a fault word before the error"
    report = {"rows": rows, "cols": cols, "core": core, "trace": trace, "final": final}
    if cfg.get("report"):
        with open(cfg["report"], "w") as fh:
            json.dump(report, fh, indent=2)
    dut._log.info("fault report: %s", {r: final[r] for r in expect})
