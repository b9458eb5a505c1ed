"""cocotb harness for the PE (hdl/pe/) and the case format shared with tests/test_pe.py (its
stimulus, the directed and the constrained-random programs, is in tb/pe_directed.py and
tb/programs.py).

Role
----
A *case* is plain data (JSON-able): an assembled image, the wavelets delivered on RAMP, and what
the golden model (golden/pe_model.py) predicts. ``golden_case()`` builds one on the pytest side;
``PEHarness.run_case()`` loads it through the PE's load bus (no backdoor), runs it with random
input idles and output backpressure, reads the final state back through the debug port and
compares: registers, DSRs, the SRAM window, the wavelets sent (in order per color) and the status
word. Many cases run in one simulator launch.

Interface
---------
golden_case(name, source_or_image, inputs=(), profile="small", sram_window=None, **opts) -> dict
PEHarness(dut, colors, rng, coverage=None)           cocotb side; coverage: a tb.pe_coverage.PeCoverage
    await .start(); await .run_case(case) -> dict (actual values, cycles, mismatches)   sampled every cycle
run_cases(cases, run_name, profile="small") -> [dict]   a batch in one simulator launch
"""

from __future__ import annotations

import json
import random
from collections import deque

from golden.pe_model import PEModel
from hdl.isa import pe_params
from hdl.loadmap import Ctrl, DbgRegion, LoadRegion, dbg_addr, load_addr
from hdl.wavelet import pack_wavelet, unpack_wavelet
from sdk.asm import assemble
from sdk.builds.paths import BUILD
from sdk.cosim.edge import value_of
from sdk.loader import load_ops
from tb.builds import pe_build

__all__ = ["golden_case", "PEHarness", "compare", "pe_build", "run_cases"]


def golden_case(name, program, inputs=(), profile="small", sram_window=None, max_cycles=200_000,
                stall_prob=0.0, idle_prob=0.0, seed=0, source=None) -> dict:
    """Assemble (if text), run the golden model on it and return the case dict."""
    if isinstance(program, str):
        source = program
        image = assemble(program, profile=profile).to_dict()
    else:
        image = program.to_dict() if hasattr(program, "to_dict") else dict(program)
    params = pe_params(profile)
    model = PEModel(**params)
    model.load(image)
    inputs = [(w[0], w[1], w[2] if len(w) > 2 else 0) for w in inputs]
    for color, payload, ctrl in inputs:
        model.deliver(color, payload, ctrl)
    result = model.run()
    sram_bytes = params["sram_kib"] * 1024
    lo, hi = sram_window or (0, sram_bytes)
    emitted = {}
    for color, payload, ctrl in model.emitted:
        emitted.setdefault(str(color), []).append([payload, ctrl])
    return {
        "name": name, "profile": profile, "image": _jsonable(image), "inputs": [list(w) for w in inputs],
        "source": source, "seed": seed, "max_cycles": max_cycles, "stall_prob": stall_prob, "idle_prob": idle_prob,
        "window": [lo, hi], "sram_bytes": sram_bytes,
        "expect": {
            "result": result, "regs": list(model.regs), "dsrs": list(model.dsrs),
            "sram": bytes(model.sram[lo:hi]).hex(), "emitted": emitted, "status": model.status.word(),
            "retired": model.instructions_retired, "starts": len(model.task_activations),
        },
    }


def _jsonable(image):
    out = dict(image)
    out["sram"] = [[int(a), b if isinstance(b, str) else bytes(b).hex()] for a, b in image.get("sram", [])]
    for key in ("tasks", "bindings", "dsrs"):
        out[key] = {str(k): int(v) for k, v in image.get(key, {}).items()}
    out.pop("symbols", None)
    out.pop("params", None)
    return out


def compare(case, actual) -> list[str]:
    """Mismatches between the golden expectation and what the RTL produced."""
    exp = case["expect"]
    bad = []
    if exp["status"] != actual["status"]:
        bad.append(f"status: golden {exp['status']:#010x} rtl {actual['status']:#010x}")
    if exp["result"] == "halted" and exp["status"] != 0:
        # after an error only the status (and what happened before it in program order) is checked
        pass
    for i in range(16):
        if exp["regs"][i] != actual["regs"][i]:
            bad.append(f"r{i}: golden {exp['regs'][i]:#x} rtl {actual['regs'][i]:#x}")
    for i in range(16):
        if exp["dsrs"][i] != actual["dsrs"][i]:
            bad.append(f"d{i}: golden {exp['dsrs'][i]:#018x} rtl {actual['dsrs'][i]:#018x}")
    if exp["sram"] != actual["sram"]:
        e, a = bytes.fromhex(exp["sram"]), bytes.fromhex(actual["sram"])
        diffs = [i for i in range(min(len(e), len(a))) if e[i] != a[i]]
        lo = case["window"][0]
        bad.append(f"sram: {len(diffs)} bytes differ, first at {lo + diffs[0]:#x}: golden "
                   f"{e[diffs[0]:diffs[0] + 8].hex()} rtl {a[diffs[0]:diffs[0] + 8].hex()}" if diffs else "sram size")
    if exp["emitted"] != actual["emitted"]:
        bad.append(f"emitted: golden {exp['emitted']} rtl {actual['emitted']}")
    if exp["result"] != "halted" and exp["retired"] != actual["retired"]:
        bad.append(f"retired: golden {exp['retired']} rtl {actual['retired']}")
    return bad


# ---------------------------------------------------------------------------- pytest / bench side

def run_cases(cases, run_name, profile="small", compare=True) -> list[dict]:
    """Run a batch of cases in one simulator launch (tb/cocotb_pe.py); return the actual results."""

    d = BUILD / "runs" / "pe_cases"
    d.mkdir(parents=True, exist_ok=True)
    cpath, rpath = d / f"{run_name}-{profile}.cases.json", d / f"{run_name}-{profile}.results.json"
    cpath.write_text(json.dumps(cases))
    pe_build(profile).run("tb.cocotb_pe", testcase="run_cases", run_name=f"{run_name}-{profile}",
                          config={"cases": str(cpath), "results": str(rpath), "profile": profile, "compare": compare,
                                  "run_name": f"{run_name}-{profile}"})
    return json.loads(rpath.read_text())


# ---------------------------------------------------------------------------- cocotb side

class PEHarness:
    def __init__(self, dut, colors, rng=None, coverage=None):
        self.dut = dut
        self.coverage = coverage
        self.colors = colors
        self.rng = rng or random.Random(1)
        self.cycle = 0
        self.inq = [deque() for _ in range(colors)]
        self.received = []
        self.arrivals = []  # (cycle, color) of wavelets that entered the PE
        self.stall_prob = 0.0
        self.idle_prob = 0.0

    async def start(self):
        from cocotb.clock import Clock
        from cocotb.triggers import ClockCycles

        dut = self.dut
        Clock(dut.clk, 2, unit="ns").start()
        dut.rst.value = 1
        for sig in (dut.load__we, dut.load__addr, dut.load__data, dut.dbg__req, dut.dbg__addr, dut.ramp_in__valid,
                    dut.ramp_in__data):
            sig.value = 0
        dut.ramp_out__ready.value = (1 << self.colors) - 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0

    async def step(self, load=None, dbg=None):
        """One cycle: drive inputs (after the edge), then sample outputs. Returns nothing."""
        from cocotb.triggers import ReadOnly, ReadWrite, RisingEdge

        dut = self.dut
        await RisingEdge(dut.clk)
        await ReadWrite()
        self.cycle += 1
        # RAMP input: one wavelet per cycle among colors whose ready bit is set
        ready = value_of(dut.ramp_in__ready)
        sent = None
        if not (self.idle_prob and self.rng.random() < self.idle_prob):
            for c in range(self.colors):
                if self.inq[c] and ready >> c & 1:
                    payload, ctrl = self.inq[c].popleft()
                    sent = c
                    dut.ramp_in__data.value = pack_wavelet(c, payload, ctrl)
                    break
        dut.ramp_in__valid.value = 1 if sent is not None else 0
        if sent is not None:
            self.arrivals.append((self.cycle, sent))
        r = (1 << self.colors) - 1
        if self.stall_prob:
            for c in range(self.colors):
                if self.rng.random() < self.stall_prob:
                    r &= ~(1 << c)
        dut.ramp_out__ready.value = r
        if load is not None:
            dut.load__we.value = 1
            dut.load__addr.value = load[0]
            dut.load__data.value = load[1]
        else:
            dut.load__we.value = 0
        if dbg is not None:
            dut.dbg__req.value = 1
            dut.dbg__addr.value = dbg
        else:
            dut.dbg__req.value = 0
        await ReadOnly()
        if value_of(dut.ramp_out__valid):
            w = value_of(dut.ramp_out__data)
            self.received.append(tuple(unpack_wavelet(w)))
        if self.coverage is not None:
            self.coverage.sample_cycle(dut)

    async def load_image(self, image, sram_bytes):
        await self.step(load=(load_addr(LoadRegion.CTRL, 0), int(Ctrl.CLEAR | Ctrl.ZERO)))
        await self.step()
        while value_of(self.dut.status__clearing):
            await self.step()
        for op in load_ops(image, sram_bytes):
            await self.step(load=op)

    async def run_case(self, case) -> dict:
        self.inq = [deque() for _ in range(self.colors)]
        self.received = []
        self.arrivals = []
        self.stall_prob = case.get("stall_prob", 0.0)
        self.idle_prob = case.get("idle_prob", 0.0)
        await self.load_image(case["image"], case["sram_bytes"])
        if self.coverage is not None:
            self.coverage.case(case["image"]["imem"])
        delay = case.get("input_delay", 0)
        if not delay:
            for color, payload, ctrl in case["inputs"]:
                self.inq[color].append((payload, ctrl))
        await self.step(load=(load_addr(LoadRegion.CTRL, 0), int(Ctrl.RUN)))
        t0 = self.cycle
        quiet = 0
        first_exec = None
        timeout = False
        dut = self.dut
        while True:
            if delay and self.cycle - t0 == delay:
                for color, payload, ctrl in case["inputs"]:
                    self.inq[color].append((payload, ctrl))
            await self.step()
            if first_exec is None and value_of(dut.status__running):
                first_exec = self.cycle + 1  # FETCH this cycle, the first instruction executes next
            idle = value_of(dut.status__idle) and self.cycle - t0 > delay
            quiet = quiet + 1 if idle else 0
            if quiet >= 6 or value_of(dut.status__halted) and quiet >= 1:
                break
            if value_of(dut.status__halted):
                quiet += 1
            if self.cycle - t0 > case["max_cycles"]:
                timeout = True
                break
        self.stall_prob = 0.0
        self.idle_prob = 0.0
        actual = {
            "timeout": timeout, "status": value_of(dut.status__word), "retired": value_of(dut.status__retired),
            "cycles": value_of(dut.status__cycles), "busy_cycles": value_of(dut.status__busy_cycles),
            "vec_elems": value_of(dut.status__vec_elems), "starts": value_of(dut.status__task_starts),
            "arrivals": list(self.arrivals), "first_exec": first_exec, "t_run": t0,
        }
        if self.coverage is not None:
            self.coverage.sample_status(actual["status"])
        # stop the scheduler before reading back (the debug port shares rd1 with the core)
        await self.step(load=(load_addr(LoadRegion.CTRL, 0), 0))
        regs, dsrs = [], []
        for i in range(16):
            await self.step(dbg=dbg_addr(DbgRegion.GPR, i))
            regs.append(value_of(dut.dbg__rdata) & 0xFFFFFFFF)
        for i in range(16):
            await self.step(dbg=dbg_addr(DbgRegion.DSR, i))
            dsrs.append(value_of(dut.dbg__rdata))
        lo, hi = case["window"]
        rows = list(range(lo // 8, (hi + 7) // 8))
        data = bytearray()
        for k, row in enumerate(rows + [None]):
            await self.step(dbg=dbg_addr(DbgRegion.SRAM, row if row is not None else 0))
            if k > 0:
                data += value_of(dut.dbg__rdata).to_bytes(8, "little")
        base = rows[0] * 8 if rows else lo
        actual["regs"], actual["dsrs"] = regs, dsrs
        actual["sram"] = bytes(data[lo - base:hi - base]).hex()
        emitted = {}
        for color, payload, ctrl in self.received:
            emitted.setdefault(str(color), []).append([payload, ctrl])
        actual["emitted"] = emitted
        return actual
