"""cocotb tests of the FPGA core (hdl/board_core.py: UART + host bridge + generated mesh), everything
through the UART at the bit level, as a host on a real board would do it.

``bridge_routing``: route tables enter as management streams (sdk/loader.py) injected into every
row's west-edge link through the bridge; the management echo leaving the east edge comes back as
WAVELET frames and is checked against the golden routing model; then multicast edge-to-edge
traffic on five colors from every side is checked exit by exit against the golden model, and the
bridge's STATUS counters against the counts on the host side. Finally RESET is checked to clear
the counters.

``bridge_program``: the front-door smoke program (sdk/kernels/row_echo.py) loaded through the
bridge; each input wavelet is row-broadcast, every PE's data task sends payload + 1 east; the
east-edge output must equal the golden engine's (golden/pe_mesh_model.py).

``bridge_gemm``: a small GEMM (sdk/kernels/gemm.py: the same streams as on the simulated mesh)
played through the UART; the C tiles that come back must equal golden/matmul.py bit for bit.

``bridge_faults``: FAULTS frames read the mesh's ``row_fault`` words: none out of reset; after one
PE was loaded through the bridge with a program that stores beyond its SRAM, its row names its
column and the PE status word the golden PE model predicts, the other rows nothing; RESET clears
them.
"""

import random
from collections import Counter

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from golden.matmul import gemm_bits
from golden.route_patterns import edge_patterns
from golden.routing import MeshRoutes, simulate
from hdl.bridge_format import PROTOCOL_VERSION
from hdl.mesh import EdgeLink
from hdl.profiles import get_profile
from hdl.wavelet import Port, Wavelet
from sdk.builds.verilator import tb_config
from sdk.cosim.board_server import start_core
from sdk.engines.base import Until
from sdk.engines.golden import GoldenEngine
from sdk.kernels import row_echo
from sdk.kernels.common import random_matrix
from sdk.kernels.gemm import Gemm
from sdk.loader import MeshLoader, management_routes
from tb.programs import faulty_pe_setup
from tb.scoreboard import compare_fabric
from tb.uart_host import BridgeHost


async def start(dut, cfg):
    host = BridgeHost(await start_core(dut, cfg["divisor"]), cfg.get("rx_depth", 512))
    await RisingEdge(dut.clk)
    return host


def edge_count(golden) -> int:
    """Wavelets the golden model delivers at edge exits (RAMP exits lead into PE cores)."""
    return sum(len(v) for ex, v in golden.outputs.items() if ex[1] != Port.RAMP)


def observed(host, rows, cols):
    """What the host received, keyed as the golden routing model keys its exits: (pe, port)."""
    return {link.pe_port(rows, cols): list(ws) for link, ws in host.wavelets.items()}


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
    mesh, sources = edge_patterns(rows, cols, prof.colors, avoid=(prof.mgmt_color,))
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)

    # 1. routes through every row's west link; the management echo leaves the east edge
    streams = loader.streams()
    t0 = cocotb.utils.get_sim_time("ns")
    for r, stream in streams.items():
        await host.inject(EdgeLink(Port.W, r), stream)
    await host.drain()
    load_wavelets = sum(map(len, streams.values()))
    injections = {EdgeLink(Port.W, r).pe_port(rows, cols): s for r, s in streams.items()}
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
        await host.inject(EdgeLink.at(*link, rows, cols), chunk)
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
    """The front-door smoke program (sdk/kernels/row_echo.py) loaded and fed through the UART; the
    east edge must carry what the golden engine (golden PE-mesh model) predicts."""
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    host = await start(dut, cfg)
    loader = MeshLoader(rows, cols, prof)
    row_echo.layout(rows, cols, prof.name).load_into(loader, zero=False)  # a new simulation: memories are 0
    streams = loader.streams()
    for r, stream in streams.items():
        await host.inject(EdgeLink(Port.W, r), stream)
    await host.drain()
    # the management echo (every load wavelet once per row, out of the east edge)
    await host.wait_wavelets(sum(map(len, streams.values())), quiet_cycles=4000)
    host.wavelets.clear()
    base = host.received

    golden = GoldenEngine(rows, cols, prof)
    golden.load(streams)
    n = cfg.get("per_row", 8)
    for link, payloads in row_echo.inputs(rows, n).items():
        wavelets = [(1, p, 0) for p in payloads]
        golden.inject(link, wavelets)
        await host.inject(link, wavelets)
    golden.run(Until.idle())
    want = {link: Counter(ws) for link, ws in golden.take().items()}
    assert want == row_echo.expected(rows, cols, n)
    await host.drain()
    await host.wait_wavelets(base + sum(sum(c.values()) for c in want.values()), quiet_cycles=8000)
    got = {key: Counter(ws) for key, ws in host.wavelets.items()}
    assert got == want, f"east edge: got {got}, golden engine {want}"
    host.check_acks()
    st = await host.status()
    assert st["flags"] == 0 and not any(st["row_err"]) and not any(st["row_halted"]), st
    assert all(st["row_idle"]), f"PEs still busy: {st['row_idle']}"
    faults = await host.faults()
    assert len(faults) == rows and not any(f["valid"] for f in faults), f"fault words without an error: {faults}"
    dut._log.info("bridge program: %d load wavelets, %d results checked against the golden engine",
                  sum(map(len, streams.values())), sum(sum(c.values()) for c in want.values()))


@cocotb.test()
async def bridge_gemm(dut):
    """A small GEMM end to end through the UART (sdk/kernels/gemm.py): its load streams, then its A
    and B panels panel by panel (as the FPGA engine sends them), the C tiles back as WAVELET frames;
    the decoded C must equal golden/matmul.py bit for bit."""
    cfg = tb_config()
    rows, cols, prof = cfg["rows"], cfg["cols"], cfg.get("profile", "small")
    host = await start(dut, cfg)
    m, k, n = cfg.get("gemm", (5, 6, 7))
    dtype = cfg.get("dtype", "f16")
    gemm = Gemm(rows, cols, m, k, n, dtype, prof)
    rng = np.random.default_rng(cfg.get("seed", 1))
    a, b = random_matrix(rng, (m, k), dtype), random_matrix(rng, (k, n), dtype)
    loader = MeshLoader(rows, cols, prof)
    gemm.layout().load_into(loader)
    streams = loader.streams()
    for r, stream in streams.items():
        await host.inject(EdgeLink(Port.W, r), stream)
    await host.drain()
    await host.wait_wavelets(sum(map(len, streams.values())), quiet_cycles=8000)
    host.wavelets.clear()
    base = host.received
    feeds = gemm.inputs(a, b)
    panels = gemm.plan.panels
    for q in range(panels):
        for link, (color, payloads) in feeds.items():
            part = len(payloads) // panels
            await host.inject(link, [(color, p, 0) for p in payloads[q * part:(q + 1) * part]])
    await host.drain()
    total = sum(cnt for _, cnt in gemm.expect().values())
    await host.wait_wavelets(base + total, quiet_cycles=20000)
    got = gemm.decode({link: [Wavelet(*w) for w in ws] for link, ws in host.wavelets.items()})
    want = gemm_bits(a, b, dtype, gemm.plan.k_pad)
    bad = np.argwhere(got != want)
    assert bad.size == 0, f"{bad.shape[0]} C elements differ from the golden model, first at {tuple(bad[0])}: " \
                          f"{int(got[tuple(bad[0])]):#x} != {int(want[tuple(bad[0])]):#x}"
    host.check_acks()
    st = await host.status()
    assert st["flags"] == 0 and not any(st["row_err"]) and not any(st["row_halted"]), st
    dut._log.info("bridge GEMM %dx%dx%d %s: bit-exact (%d result wavelets through the UART)", m, k, n, dtype, total)


@cocotb.test()
async def bridge_faults(dut):
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
        await host.inject(EdgeLink(Port.W, r), stream)
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
