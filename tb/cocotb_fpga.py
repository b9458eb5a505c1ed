"""cocotb tests of the FPGA core (fpga/core.py: UART + host bridge + generated mesh), everything
through the UART at the bit level, as a host on a real board would do it.

``bridge_routing``: route tables enter as management streams (sdk/loader.py) injected into every
row's west-edge link through the bridge; the management echo leaving the east edge comes back as
WAVELET frames and is checked against the golden routing model; then multicast edge-to-edge
traffic on five colors from every side is checked exit by exit against the golden model, and the
bridge's STATUS counters against the counts on the host side. Finally RESET is checked to clear
the counters.

``bridge_program``: routes and a program (broadcast to every PE) loaded through the bridge; each
input wavelet is row-broadcast, every PE's data task sends payload + 1 east; the east-edge output
must equal the golden PE mesh model's (golden/pe_mesh_model.py).

``bridge_gemm``: a small GEMM (tb/gemm_host.py's job: the same streams as the simulation host's)
played through the UART; the C tiles that come back must equal golden/matmul.py bit for bit.

``bridge_faults``: FAULTS frames read the mesh's ``row_fault`` words: none out of reset; after one
PE was loaded through the bridge with a program that stores beyond its SRAM, its row names its
column and the PE status word the golden PE model predicts, the other rows nothing; RESET clears
them.
"""

import random
from collections import Counter

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadWrite, RisingEdge

from golden.routing import MeshRoutes, Port, simulate
from hdl.profiles import get_profile
from sdk.engines.verilator import tb_config
from sdk.loader import MeshLoader, management_routes
from tb.scoreboard import compare_fabric
from tb.uart_host import BridgeHost, UartLink

EDGE_PORT = {"n": Port.N, "e": Port.E, "s": Port.S, "w": Port.W}


def fabric_link(side, index, rows, cols):
    """The golden model's (pe, port) for a bridge (side, index) edge link."""
    pe = {"n": (0, index), "s": (rows - 1, index), "w": (index, 0), "e": (index, cols - 1)}[side]
    return pe, EDGE_PORT[side]


def bridge_link(link, rows, cols):
    (r, c), port = link
    side = {Port.N: "n", Port.S: "s", Port.W: "w", Port.E: "e"}[Port(port)]
    return side, (c if side in "ns" else r)


async def start(dut, cfg):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    await ReadWrite()
    dut.rst.value = 0
    uart = UartLink(dut, cfg["divisor"])
    uart.start()
    host = BridgeHost(uart, cfg.get("rx_depth", 512))
    await RisingEdge(dut.clk)
    return host


def edge_count(golden) -> int:
    """Wavelets the golden model delivers at edge exits (RAMP exits lead into PE cores)."""
    return sum(len(v) for ex, v in golden.outputs.items() if ex[1] != Port.RAMP)


def observed(host, rows, cols):
    return {fabric_link(s, i, rows, cols): list(ws) for (s, i), ws in host.wavelets.items()}


async def check_status(host, rows, cols, prof, injected, collected):
    st = await host.status()
    assert (st["rows"], st["cols"], st["colors"]) == (rows, cols, prof.colors), st
    assert st["flags"] == 0, f"bridge flags: {st['flags']:#x}"
    assert not any(st["row_err"]) and not any(st["row_halted"]), st
    assert st["injected"] == injected, f"bridge injected {st['injected']}, host sent {injected}"
    assert st["collected"] == collected, f"bridge sent {st['collected']} wavelets, host received {collected}"
    return st


@cocotb.test()
async def bridge_routing(dut):
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    rng = random.Random(cfg.get("seed", 1))
    host = await start(dut, cfg)
    from golden.route_patterns import edge_patterns

    mesh, sources = edge_patterns(rows, cols, prof.colors, avoid=(prof.mgmt_color,))
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)

    # 1. routes through every row's west link; the management echo leaves the east edge
    streams = loader.streams()
    t0 = cocotb.utils.get_sim_time("ns")
    for r, stream in streams.items():
        await host.inject("w", r, stream)
    await host.drain()
    load_wavelets = sum(map(len, streams.values()))
    injections = {fabric_link("w", r, rows, cols): s for r, s in streams.items()}
    golden_echo = simulate(management_routes(MeshRoutes(rows, cols, prof.colors), prof), injections)
    await host.wait_wavelets(edge_count(golden_echo), quiet_cycles=4000)
    echo = compare_fabric(golden_echo, observed(host, rows, cols), observable=lambda ex: ex[1] != Port.RAMP)
    await check_status(host, rows, cols, prof, load_wavelets, host.received)
    load_ns = cocotb.utils.get_sim_time("ns") - t0
    host.wavelets.clear()
    received_before = host.received

    # 2. multicast traffic from every side on the loaded routes, links interleaved at random
    total = cfg.get("wavelets", 60)
    per_link = {}
    seq = Counter()
    for _ in range(total):
        link, color = sources[rng.randrange(len(sources))]
        k = seq[(link, color)]
        seq[(link, color)] += 1
        per_link.setdefault(link, []).append((color, (sources.index((link, color)) << 24 | k << 2) & 0xFFFFFFFF, 0))
    golden = simulate(management_routes(mesh, prof), per_link)
    want = edge_count(golden)
    # one frame per link at a time, links in random order: several links busy at once
    pending = {link: list(ws) for link, ws in per_link.items()}
    while pending:
        link = rng.choice(sorted(pending))
        chunk = pending[link][:rng.randrange(1, 6)]
        pending[link] = pending[link][len(chunk):]
        if not pending[link]:
            del pending[link]
        await host.inject(*bridge_link(link, rows, cols), chunk)
    await host.drain()
    await host.wait_wavelets(received_before + want, quiet_cycles=4000)
    summary = compare_fabric(golden, observed(host, rows, cols), observable=lambda ex: ex[1] != Port.RAMP)
    host.check_acks()
    st = await check_status(host, rows, cols, prof, load_wavelets + total, host.received)

    # 3. RESET clears the counters; the bridge still answers
    await host.reset()
    st2 = await host.status()
    assert st2["injected"] == 0 and st2["collected"] == 0 and st2["flags"] == 0 and st2["cycles"] < st["cycles"], st2
    dut._log.info("bridge routing: %d management wavelets (%d echoes checked) in %.0f us; %d wavelets in, "
                  "%d deliveries checked; UART bytes %d out, %d in", load_wavelets, echo["wavelets_checked"],
                  load_ns / 1000, total, summary["wavelets_checked"], host.uart.bytes_sent,
                  host.uart.bytes_received)


@cocotb.test()
async def bridge_program(dut):
    from golden.pe_mesh_model import PEMeshModel
    from hdl.isa import pe_params
    from tb.kernels import row_echo_setup

    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    host = await start(dut, cfg)
    cin, cout = 1, 2
    mesh, image, streams = row_echo_setup(rows, cols, prof.name, cin, cout)
    for r, stream in streams.items():
        await host.inject("w", r, stream)
    await host.drain()
    # the management echo (every load wavelet once per row, out of the east edge)
    await host.wait_wavelets(sum(map(len, streams.values())), quiet_cycles=4000)
    host.wavelets.clear()
    base = host.received

    params = pe_params(prof.name)
    model = PEMeshModel(mesh,
                        **{k: params[k] for k in ("sram_kib", "sram_banks", "simd_f16", "colors", "imem_words",
                                                  "uthreads")})
    for pe in model.pe:
        model.load(pe, image)
    n = cfg.get("per_row", 8)
    for r in range(rows):
        xs = [(cin, (r << 16) + k * 3, 0) for k in range(n)]
        for w in xs:
            model.inject((r, 0), Port.W, *w)
        await host.inject("w", r, xs)
    assert model.run() == "quiescent"
    await host.drain()
    want = {("e", r): Counter(model.edge_out[((r, cols - 1), Port.E)]) for r in range(rows)}
    await host.wait_wavelets(base + sum(sum(c.values()) for c in want.values()), quiet_cycles=8000)
    got = {("e", r): Counter(host.wavelets.get(("e", r), [])) for r in range(rows)}
    assert got == want, f"east edge: got {got}, golden PE mesh model {want}"
    assert set(host.wavelets) <= set(want), f"wavelets on unexpected links: {set(host.wavelets) - set(want)}"
    host.check_acks()
    st = await host.status()
    assert st["flags"] == 0 and not any(st["row_err"]) and not any(st["row_halted"]), st
    assert all(st["row_idle"]), f"PEs still busy: {st['row_idle']}"
    faults = await host.faults()
    assert len(faults) == rows and not any(f["valid"] for f in faults), f"fault words without an error: {faults}"
    dut._log.info("bridge program: %d load wavelets, %d results checked against the golden PE mesh model",
                  sum(map(len, streams.values())), sum(sum(c.values()) for c in want.values()))


@cocotb.test()
async def bridge_gemm(dut):
    """A small GEMM end to end through the UART: the job tb/gemm_host.py builds for the simulation
    host (management streams, then A and B panels) is played through the bridge, the C tiles come
    back as WAVELET frames, and the decoded C must equal the golden model bit for bit."""
    import numpy as np

    from tb.gemm_flow import gemm_case
    from tb.gemm_host import bridge_schedule, gemm_decode

    cfg = tb_config()
    rows, cols = cfg["rows"], cfg["cols"]
    host = await start(dut, cfg)
    m, k, n = cfg.get("gemm", (5, 6, 7))
    case = gemm_case(rows, cols, m, k, n, cfg.get("dtype", "f16"), cfg.get("profile", "small"), seed=cfg.get("seed", 1))
    job, plan = case.job, case.plan
    load, data, echo, total = bridge_schedule(job, plan.panels)  # the order fpga.host plays it in
    for side, index, wavelets in load:
        await host.inject(side, index, wavelets)
    await host.drain()
    await host.wait_wavelets(echo, quiet_cycles=8000)
    host.wavelets.clear()
    base = host.received
    for side, index, wavelets in data:
        await host.inject(side, index, wavelets)
    await host.drain()
    await host.wait_wavelets(base + total, quiet_cycles=20000)
    outputs = {f"{s.upper()}{i}": [list(w) for w in ws] for (s, i), ws in host.wavelets.items()}
    got = gemm_decode(plan, outputs)
    bad = np.argwhere(got != case.golden)
    assert bad.size == 0, f"{bad.shape[0]} C elements differ from the golden model, first at {tuple(bad[0])}: " \
                          f"{int(got[tuple(bad[0])]):#x} != {int(case.golden[tuple(bad[0])]):#x}"
    host.check_acks()
    st = await host.status()
    assert st["flags"] == 0 and not any(st["row_err"]) and not any(st["row_halted"]), st
    dut._log.info("bridge GEMM %dx%dx%d %s: bit-exact (%d result wavelets through the UART)",
                  m, k, n, plan.dtype, total)


@cocotb.test()
async def bridge_faults(dut):
    from hdl.bridge_format import PROTOCOL_VERSION
    from tb.cocotb_tile_mesh import faulty_pe_setup

    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    host = await start(dut, cfg)
    st = await host.status()
    assert st["version"] == PROTOCOL_VERSION, st
    faults = await host.faults()
    assert len(faults) == rows and not any(f["valid"] for f in faults), f"fault words out of reset: {faults}"
    fr, fc = rows - 1, cols - 1
    streams, want = faulty_pe_setup(rows, cols, prof.name, (fr, fc))
    for r, stream in streams.items():
        await host.inject("w", r, stream)
    await host.drain()
    await host.wait_wavelets(sum(map(len, streams.values())), quiet_cycles=4000)  # the management echo
    for _ in range(10):  # the fault reaches the east edge within cols cycles of the error
        faults = await host.faults()
        if faults[fr]["valid"]:
            break
    assert {k: faults[fr][k] for k in want} == want, f"row {fr}: fault word {faults[fr]}, want {want}"
    assert not any(f["valid"] for r, f in enumerate(faults) if r != fr), f"faults in other rows: {faults}"
    host.check_acks()
    st = await host.status()
    assert st["flags"] == 0 and st["row_err"][fr] and st["row_halted"][fr], st
    assert sum(st["row_err"]) == 1, st
    await host.reset()
    faults = await host.faults()
    assert not any(f["valid"] for f in faults), f"fault words after RESET: {faults}"
    dut._log.info("bridge faults: row %d reported %s; cleared by RESET", fr, want)
