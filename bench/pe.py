"""PE figures on the RTL: MACs/cycle per FMAC mode against the SIMD peak, task activation, PE cells.

For each profile this builds (once, cached by sdk/builds/verilator.py) the PE on Verilator and runs
benchmark programs through tb/cocotb_pe.py (results are also checked bit-exact against the golden
model): ``fmacs.M`` over 1024 unit-stride elements (the accumulator and the operand in memory, the
scalar in a register: two row reads and one row write per lane group), timed as the difference of
the busy cycles of the same program with n = 1024 and n = 0 (so the task's other instructions
cancel out); a data task's activation (the wavelet's cycle on ramp_in to the cycle its first
instruction executes); ``fmac.f16`` with all three operands in memory (docs/isa.md: 2/3 of the
lanes); the element-wise ops ``vmax`` / ``vmaxs`` / ``vcvt`` over 512 unit-stride elements in
memory (elements per cycle, against their lanes), timed the same way; the math library's routines
(sdk/kernels/mathlib.py: exp, rcp, rsqrt in f32 and f16) over 129 against 1 element, in elements
per cycle and cycles per element (their instruction count does not depend on n); chains of dependent
vector ops (``vadd``, ``vmul``, ``fmac``, ``vmax`` in f32 and a ``vcvt`` there and back, each op reading
what the one before wrote) of 1 and 16 elements, in cycles per op: 33 against 1 op. Then one Yosys
``synth -flatten`` of the PE with its memories (SRAM banks, instruction memory) kept as one
``$mem_v2`` cell each (bench/fabric.py ``yosys_cells(keep_memories=True)``: flattening 48 KiB of
SRAM into flip-flops would measure the SRAM, not the PE, and takes hours).

    {"profile", "macs_per_cycle": {mode: x}, "simd_peak": {mode: lanes}, "utilisation": {mode: x},
     "elems_per_cycle": {op: x}, "elem_peak": {op: lanes}, "routine_cycles_per_elem": {routine.fmt: x},
     "dependent_chain_cycles_per_op": {op/elements: x},
     "task_activation_cycles", "pe_cells", "profiles": {name: {the same figures}}}

Usage:
    python -m bench.pe [--json build/bench/pe.json] [--profile small,wse] [--no-cells]
"""

from __future__ import annotations

import random
import sys

from bench.common import bench_args, run_profiles
from hdl.pe import PE
from hdl.profiles import get_profile
from sdk.builds.paths import BUILD
from sdk.kernels.mathlib import FORMATS, ROUTINES
from tb.pe_directed import math_program
from tb.pe_harness import golden_case, run_cases

N = 1024
#: fmac mode -> (accumulator type, operand type, bytes per accumulator, bytes per operand)
MODES = {"f32.f16": ("f32", "f16", 4, 2), "f32": ("f32", "f32", 4, 4), "f16": ("f16", "f16", 2, 2),
         "i32.i16": ("i32", "i16", 4, 2)}


def fmacs_program(mode: str, n: int, profile) -> tuple[str, int]:
    acc_t, op_t, acc_b, op_b = MODES[mode]
    rng = random.Random(7)
    # The operand right after the accumulator, offset by one row: the accumulator's read and write
    # and the operand's read then fall into different banks in the steady state.
    a_base = N * acc_b + 8
    if a_base + N * op_b > profile.sram_kib * 1024:
        a_base -= 8  # f32 in the small profile fills the 8 KiB exactly
    vals = ", ".join(hex(rng.getrandbits(14)) for _ in range(N))
    acc_vals = ", ".join(hex(rng.getrandbits(14)) for _ in range(N))
    acc_dir = ".half" if acc_b == 2 else ".word"
    op_dir = ".half" if op_b == 2 else ".word"
    src = f"""
        .task 0, t0
        .start 0
        .dsr d0, mem.{acc_t}, 0, {n}, 1
        .dsr d1, mem.{op_t}, {a_base}, {n}, 1
        .data 0
        {acc_dir} {acc_vals}
        .data {a_base}
        {op_dir} {vals}
        .text
        t0: li r5, 0x3c01
            fmacs.{mode} d0, d1, r5
            end
    """
    return src, a_base + N * op_b


def fmac_elementwise_program(profile) -> str:
    """fmac.f16 d0 += d1 * d2 with all three in SRAM (three row reads per lane group)."""
    rng = random.Random(8)
    parts = []
    for k in range(3):
        parts.append(f".data {k * (2 * N + 8)}\n        .half " + ", ".join(hex(rng.getrandbits(14)) for _ in range(N)))
    data = "\n        ".join(parts)
    return f"""
        .task 0, t0
        .start 0
        .dsr d0, mem.f16, 0, {N}, 1
        .dsr d1, mem.f16, {2 * N + 8}, {N}, 1
        .dsr d2, mem.f16, {2 * (2 * N + 8)}, {N}, 1
        {data}
        .text
        t0: fmac.f16 d0, d1, d2
            end
    """


N_ELEM = 512
#: element-wise op -> (destination type, operand A type, operand B: "dsr" | "scalar" | None)
ELEMENTWISE = {"vmax.f16": ("f16", "f16", "dsr"), "vmax.f32": ("f32", "f32", "dsr"),
               "vmaxs.f16": ("f16", "f16", "scalar"), "vcvt.f32.f16": ("f32", "f16", None),
               "vcvt.f16.f32": ("f16", "f32", None)}


def elementwise_program(op: str, n: int) -> tuple[str, int]:
    """``op`` over ``n`` (of N_ELEM) unit-stride elements: destination, A and B one after another,
    each one row past the previous one's end (their rows then fall into different banks)."""
    dt, at, b = ELEMENTWISE[op]
    size = {"f16": 2, "f32": 4}
    rng = random.Random(9)
    a_base = N_ELEM * size[dt] + 8
    b_base = a_base + N_ELEM * size[at] + 8
    top = b_base + (N_ELEM * size[at] if b == "dsr" else 0)
    vals = ", ".join(hex(rng.getrandbits(30 if at == "f32" else 14) | rng.getrandbits(1) << (31 if at == "f32" else 15))
                     for _ in range(2 * N_ELEM))
    direc = ".half" if at == "f16" else ".word"
    operands = {"dsr": "d0, d1, d2", "scalar": "d0, d1, r5", None: "d0, d1"}[b]
    src = f"""
        .task 0, t0
        .start 0
        .dsr d0, mem.{dt}, 0, {n}, 1
        .dsr d1, mem.{at}, {a_base}, {n}, 1
        .dsr d2, mem.{at}, {b_base}, {n}, 1
        .data {a_base}
        {direc} {vals}
        .text
        t0: li r5, 0
            {op} {operands}
            end
    """
    return src, top


ROUTINE_N = 128  # elements timed: the difference of n = ROUTINE_N + 1 and n = 1
ROUTINE_Y, ROUTINE_SCRATCH = 0x400, 0x800  # x at 0; every routine's scratch for 129 elements fits below 8 KiB


def routine_program(name: str, fmt: str, n: int) -> str:
    """The math routine over n normal inputs (their values do not change its timing)."""
    rng = random.Random(11)
    if fmt == "f16":
        x = [0x3000 | rng.getrandbits(11) for _ in range(n)]
    else:
        x = [0x3E000000 | rng.getrandbits(24) for _ in range(n)]
    return math_program(name, fmt, x, y=ROUTINE_Y, scratch=ROUTINE_SCRATCH)


CHAIN = 32  # dependent ops timed: the difference of a chain of CHAIN + 1 ops and of 1 op
#: op -> the instruction(s) of one link of a dependent chain: each reads what the one before wrote
CHAIN_OPS = {"vadd.f32": ["vadd.f32 d0, d0, d1"], "vmul.f32": ["vmul.f32 d0, d0, d1"],
             "fmac.f32": ["fmac.f32 d0, d1, d2"], "vmax.f32": ["vmax.f32 d0, d0, d1"],
             # a conversion and its way back: two dependent ops per link
             "vcvt": ["vcvt.f16.f32 d3, d0", "vcvt.f32.f16 d0, d3"]}
CHAIN_LENGTHS = (1, 16)


def chain_program(op: str, length: int, links: int) -> str:
    """``links`` dependent ``op``s over ``length`` f32 elements, one after another in one task."""
    rng = random.Random(12)
    vals = ", ".join(hex(0x3F800000 | rng.getrandbits(12)) for _ in range(3 * 16))
    body = "\n            ".join(CHAIN_OPS[op] * links)
    return f"""
        .task 0, t0
        .start 0
        .dsr d0, mem.f32, 0, {length}, 1
        .dsr d1, mem.f32, 64, {length}, 1
        .dsr d2, mem.f32, 128, {length}, 1
        .dsr d3, mem.f16, 192, {length}, 1
        .data 0
        .word {vals}
        .text
        t0: {body}
            end
    """


def chain_cycles(res: dict) -> dict:
    """Cycles per dependent op, by op and vector length (a vcvt link is two ops)."""
    out = {}
    for op, link in CHAIN_OPS.items():
        for n in CHAIN_LENGTHS:
            cyc = res[f"chain.{op}.{n}/{CHAIN + 1}"]["busy_cycles"] - res[f"chain.{op}.{n}/1"]["busy_cycles"]
            out[f"{op}/{n}"] = round(cyc / (CHAIN * len(link)), 2)
    return out


def measure(profile: str) -> dict:
    prof = get_profile(profile)
    cases = []
    for mode in MODES:
        for n in (N, 0):
            src, top = fmacs_program(mode, n, prof)
            cases.append(golden_case(f"fmacs.{mode}/{n}", src, profile=profile, sram_window=(0, top)))
    ew_src = fmac_elementwise_program(prof)
    cases.append(golden_case("fmac.f16/elementwise", ew_src, profile=profile, sram_window=(0, 3 * 2 * N + 16)))
    cases.append(golden_case("fmac.f16/elementwise0", ew_src.replace(f", {N}, 1", ", 0, 1"), profile=profile,
                             sram_window=(0, 16)))
    for op in ELEMENTWISE:
        for n in (N_ELEM, 0):
            src, top = elementwise_program(op, n)
            cases.append(golden_case(f"{op}/{n}", src, profile=profile, sram_window=(0, top)))
    for name in ROUTINES:
        for fmt in FORMATS:
            for n in (ROUTINE_N + 1, 1):
                cases.append(golden_case(f"{name}.{fmt}/{n}", routine_program(name, fmt, n), profile=profile,
                                         sram_window=(0, prof.sram_kib * 1024)))
    for op in CHAIN_OPS:
        for n in CHAIN_LENGTHS:
            for links in (CHAIN + 1, 1):
                cases.append(golden_case(f"chain.{op}.{n}/{links}", chain_program(op, n, links), profile=profile,
                                         sram_window=(0, 256)))
    act = """
        .task 3, t3, 2
        .text
        t3: addi r1, r15, 1
            end
    """
    act_case = golden_case("activation", act, [(2, 41, 0)], profile=profile, sram_window=(0, 64))
    act_case["input_delay"] = 20
    cases.append(act_case)
    print(f"[pe] {profile}: building/reusing the PE on Verilator and running {len(cases)} programs ...", flush=True)
    res = {r["name"]: r for r in run_cases(cases, "bench", profile=profile)}
    bad = [r["name"] for r in res.values() if r["mismatches"]]
    if bad:
        raise SystemExit(f"benchmark programs differ from the golden model: {bad}")
    macs, peak, util = {}, {}, {}
    for mode in MODES:
        cyc = res[f"fmacs.{mode}/{N}"]["busy_cycles"] - res[f"fmacs.{mode}/0"]["busy_cycles"]
        lanes = prof.simd_f16 if mode == "f16" else prof.simd_f16 // 2
        lanes = min(lanes, 4 if mode == "f16" else 2)  # a 64-bit row holds 4 16-bit / 2 32-bit elements
        macs[mode] = round(N / cyc, 3)
        peak[mode] = lanes
        util[mode] = round(N / cyc / lanes, 3)
    cyc = res["fmac.f16/elementwise"]["busy_cycles"] - res["fmac.f16/elementwise0"]["busy_cycles"]
    elementwise = round(N / cyc, 3)  # docs/isa.md: 2/3 of the f16 lanes (three row reads per group)
    elems, elem_peak = {}, {}
    for op, (dt, at, _) in ELEMENTWISE.items():
        cyc = res[f"{op}/{N_ELEM}"]["busy_cycles"] - res[f"{op}/0"]["busy_cycles"]
        elems[op] = round(N_ELEM / cyc, 3)
        # docs/isa.md: the result's lanes, at most one 64-bit row per operand and group
        elem_peak[op] = min(prof.simd_f16 if dt == at == "f16" else prof.simd_f16 // 2, 4 if dt == at == "f16" else 2)
    routines = {}
    for name in ROUTINES:
        for fmt in FORMATS:
            cyc = res[f"{name}.{fmt}/{ROUTINE_N + 1}"]["busy_cycles"] - res[f"{name}.{fmt}/1"]["busy_cycles"]
            routines[f"{name}.{fmt}"] = round(cyc / ROUTINE_N, 2)
    a = res["activation"]
    activation = a["first_exec"] - a["arrivals"][0][0]
    return {"macs_per_cycle": macs, "simd_peak": peak, "utilisation": util, "task_activation_cycles": activation,
            "fmac_f16_elementwise_macs_per_cycle": elementwise, "elems_per_cycle": elems, "elem_peak": elem_peak,
            "routine_cycles_per_elem": routines, "dependent_chain_cycles_per_op": chain_cycles(res)}


def main(argv=None) -> int:
    args = bench_args(__doc__.splitlines()[0], BUILD / "bench" / "pe.json").parse_args(argv)
    keys = ("macs_per_cycle", "simd_peak", "utilisation", "elems_per_cycle", "elem_peak", "routine_cycles_per_elem",
            "dependent_chain_cycles_per_op", "task_activation_cycles", "pe_cells")
    per = run_profiles(args, measure, PE, "tessera_pe", "pe_cells", keys, "pe", keep_memories=True)
    if per is None:
        return 2
    profiles = list(per)
    print()
    print(f"{'figure':34}" + "".join(f"{p:>12}" for p in profiles))
    for mode in MODES:
        print(f"{'macs_per_cycle fmacs.' + mode:34}"
              + "".join(f"{per[p]['macs_per_cycle'][mode]:>7} / {per[p]['simd_peak'][mode]:<2}" for p in profiles))
    for op in ELEMENTWISE:
        print(f"{'elems_per_cycle ' + op:34}"
              + "".join(f"{per[p]['elems_per_cycle'][op]:>7} / {per[p]['elem_peak'][op]:<2}" for p in profiles))
    for r in per[profiles[0]]["routine_cycles_per_elem"]:
        print(f"{'cycles_per_elem ' + r:34}" + "".join(f"{per[p]['routine_cycles_per_elem'][r]:>12}" for p in profiles))
    for c in per[profiles[0]]["dependent_chain_cycles_per_op"]:
        print(f"{'cycles_per_dependent_op ' + c:34}"
              + "".join(f"{per[p]['dependent_chain_cycles_per_op'][c]:>12}" for p in profiles))
    for k in ("fmac_f16_elementwise_macs_per_cycle", "task_activation_cycles", "pe_cells"):
        print(f"{k:34}" + "".join(f"{str(per[p].get(k, '-')):>12}" for p in profiles))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
