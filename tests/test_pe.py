"""The PE RTL (hdl/pe/) on Verilator against the golden model (golden/pe_model.py).

One Verilator build per profile (built once, cached by sdk/builds/verilator.py); every test runs a batch of
cases in one simulator launch (tb/cocotb_pe.py). Expected values always come from the golden model
run on the same image and inputs, never from the RTL.

* directed: every directed program of tb/pe_directed.py (the ones the golden model's directed
  tests, tests/test_pe_model.py, check by hand; written from docs/isa.md: every instruction, task
  scheduling, async ops, every error code) replayed on the RTL, plus RTL-specific directed cases
  (back-pressure, SIMD groups, bank/port sharing, async micro-threads).
* random: seeded constrained-random race-free programs (tb/programs.random_program); a failure
  prints the seed and the program.
* sparse GEMV: nonzero activations as wavelets; bit-exact, cycles proportional to the nonzeros.
"""

from __future__ import annotations

import os
import random

import pytest

from golden import fp
from hdl.isa import ErrorCode
from tb.pe_directed import PROGRAMS, directed_programs, operand_kind_programs
from tb.pe_harness import golden_case, run_cases
from tb.programs import random_program, sparse_gemv_source

pytestmark = pytest.mark.sim  # every test here runs a simulator (docs/verification.md "Test tiers")

N_RANDOM = int(os.environ.get("TESSERA_PE_RANDOM", "300"))
N_REGRESSION = 60  # of them in `make test`; all in `make test-all`


# ---- directed: the golden model's directed programs --------------------------------------------

def test_directed_model_programs():
    cases = []
    for k, (name, src, deliveries) in enumerate(directed_programs()):
        case = golden_case(f"{name}#{k}", src, deliveries, sram_window=(0, 8192), max_cycles=20_000,
                           stall_prob=0.2, idle_prob=0.2, seed=k)
        if case["expect"]["result"] == "limit":
            continue  # an endless loop (the model's instruction-budget test)
        if case["expect"]["result"] == "waiting":
            case["max_cycles"] = 3000  # the RTL waits too: compare the state after a while
        cases.append(case)
    assert len(cases) > 30
    results = run_cases(cases, "directed_model")
    assert all(not r["mismatches"] for r in results)


# ---- constrained-random programs -----------------------------------------------------------

def random_cases(seeds, profile="small"):
    cases = []
    for seed in seeds:
        src, inputs = random_program(seed, profile)
        case = golden_case(f"random#{seed}", src, inputs, profile=profile, sram_window=(0, 0x400),
                           max_cycles=20_000, stall_prob=0.3, idle_prob=0.3, seed=seed)
        assert case["expect"]["result"] in ("idle", "halted"), (seed, case["expect"]["result"], src)
        cases.append(case)
    return cases


@pytest.mark.parametrize("part", ["first", pytest.param("rest", marks=pytest.mark.slow)])
def test_random_programs(part):
    """TESSERA_PE_RANDOM (default 300) seeded race-free random programs: the first N_REGRESSION in
    the regression, the rest in `make test-all`; each failure prints its seed and program (reproduce
    one with TESSERA_PE_SEEDS=seed,..., which runs those seeds as the first part)."""
    seeds = os.environ.get("TESSERA_PE_SEEDS")
    if seeds:
        seeds = [int(s) for s in seeds.split(",")] if part == "first" else []
    else:
        every = list(range(1, N_RANDOM + 1))
        seeds = every[:N_REGRESSION] if part == "first" else every[N_REGRESSION:]
    if not seeds:
        pytest.skip("no seeds in this part")
    results = run_cases(random_cases(seeds), f"random_{part}")
    assert all(not r["mismatches"] for r in results)


# ---- sparse GEMV ---------------------------------------------------------------------------

GEMV_M, GEMV_N = 32, 64


def gemv_source(seed=5):
    """y += W x, W column-major f16 (docs/isa.md example, sized up): each nonzero x[j] arrives on
    color 3 as (j << 16 | f16 x[j]) and triggers one fmacs of column j; a control wavelet on color 3
    sends y out on color 4."""
    rng = random.Random(seed)
    w = ", ".join(f"{rng.choice([-1, 1]) * rng.uniform(0.01, 4):.4f}" for _ in range(GEMV_M * GEMV_N))
    return sparse_gemv_source(GEMV_M, f".f16 {w}")


def gemv_inputs(density, seed):
    rng = random.Random(seed)
    cols = sorted(rng.sample(range(GEMV_N), round(density * GEMV_N)))
    return [(3, j << 16 | fp.f16_bits(rng.uniform(-2, 2)), 0) for j in cols] + [(3, 0, 1)]


def test_sparse_gemv_bit_exact_and_cycles_proportional_to_nonzeros():
    src = gemv_source()
    densities = [0.0, 0.1, 0.5, 1.0]
    cases = [golden_case(f"gemv{d}", src, gemv_inputs(d, seed=11), sram_window=(0, 0x1100), seed=3)
             for d in densities]
    cases += [golden_case("gemv0.5-stalls", src, gemv_inputs(0.5, seed=12), sram_window=(0, 0x1100),
                          stall_prob=0.3, idle_prob=0.3, seed=4)]
    res = {r["name"]: r for r in run_cases(cases, "gemv")}
    assert all(not r["mismatches"] for r in res.values()), [r["mismatches"] for r in res.values()]
    base = res["gemv0.0"]["busy_cycles"]
    per_nz = {d: (res[f"gemv{d}"]["busy_cycles"] - base) / round(d * GEMV_N) for d in densities[1:]}
    # the cost of one nonzero is the same at every density: cycles are proportional to the nonzeros
    assert max(per_nz.values()) / min(per_nz.values()) < 1.1, per_nz
    ratio = (res["gemv0.5"]["busy_cycles"] - base) / (res["gemv0.1"]["busy_cycles"] - base)
    assert abs(ratio / (32 / 6) - 1) < 0.1, ratio
    print(f"sparse GEMV {GEMV_M}x{GEMV_N}: cycles per nonzero {per_nz}")


# ---- RTL-specific directed cases -------------------------------------------------------------

def _vals(rng, n, bits=16):
    return ", ".join(hex(rng.getrandbits(bits) & (0x7BFF if bits == 16 else 0x7F7FFFFF)) for _ in range(n))


def rtl_directed_cases():
    """Programs aimed at the RTL's own mechanisms: SIMD groups against bank conflicts and strides,
    the row buffer, micro-thread exhaustion, the vector engine interleaving contexts, the scalar
    core sharing SRAM ports with running async ops, output back-pressure."""
    rng = random.Random(99)
    cases = []
    # every operand in bank 0 (rows 0, 32, 64, 96 apart): three reads per group, all conflicting
    src = f"""
        .task 0, t0
        .start 0
        .dsr d0, mem.f16, 0x000, 64, 1
        .dsr d1, mem.f16, 0x400, 64, 1
        .dsr d2, mem.f16, 0x800, 64, 1
        .dsr d3, mem.f32, 0xC00, 40, -1
        .dsr d4, mem.f32, 0x1000, 40, 2
        .dsr d5, mem.f16, 0x1402, 63, 1
        .dsr d6, mem.f16, 0x1802, 63, 1
        .data 0x000
        .half {_vals(rng, 64)}
        .data 0x400
        .half {_vals(rng, 64)}
        .data 0x800
        .half {_vals(rng, 64)}
        .data 0x1000
        .word {_vals(rng, 80, 32)}
        .data 0x1400
        .half {_vals(rng, 64)}
        .text
        t0: fmac.f16 d0, d1, d2
            li r1, 0x3e00
            fmacs.f32.f16 d4, d1, r1
            li r2, 0xC00 - 39 * 4
            li r3, 40
            li r4, 1
            dmem.f32 d3, r2, r3, r4
            vmov.f32 d3, d4
            vmuls.f16 d6, d5, r1
            vadd.f16 d5, d5, d6
            end
    """
    cases.append(golden_case("bank_conflicts_strides_offsets", src, sram_window=(0, 0x1900)))
    # three async ops on two micro-threads: the third stalls until one frees; the sync op and the
    # task's loads/stores run beside them
    src = f"""
        .task 0, t0
        .task 5, done5
        .task 6, done6
        .task 7, done7
        .start 0
        .dsr d0, mem.f32, 0x000, 128, 1
        .dsr d1, mem.f32, 0x200, 128, 1
        .dsr d2, mem.i16, 0x400, 256, 1
        .dsr d3, mem.i16, 0x600, 256, 1
        .dsr d4, mem.f16, 0x800, 200, 1
        .dsr d5, mem.f16, 0xA00, 200, 1
        .dsr d6, mem.i32, 0xC00, 64, 1
        .data 0x200
        .word {_vals(rng, 128, 32)}
        .data 0x600
        .half {_vals(rng, 256)}
        .data 0xA00
        .half {_vals(rng, 200)}
        .data 0xE00
        .word 1, 2, 3, 4, 5, 6, 7, 8
        .text
        t0: li r1, 0x3fc00000
            vadds.f32 d0, d1, r1, done=5
            li r2, 7
            vmuls.i16 d2, d3, r2, done=6
            li r3, 0x3c00
            fmacs.f16 d4, d5, r3, done=7
            vfill.i32 d6, r2
            lw r4, 0xE00(r0)
            lw r5, 0xE04(r0)
            add r4, r4, r5
            sw r4, 0xE20(r0)
            sh r4, 0xE26(r0)
            lhu r6, 0xE20(r0)
            end
        done5: lw r8, 0x000(r0)
            j clr
        done6: lw r9, 0x400(r0)
            j clr
        done7: lhu r10, 0x800(r0)
            send r10, 5
        clr: li r14, 0        ; the done tasks start in a timing-dependent order
            li r15, 0
            end
    """
    cases.append(golden_case("async_threads_exhausted", src, sram_window=(0, 0x1000), stall_prob=0.3))
    # fabric in and out under heavy back-pressure and input idles; async FIN op beside a data task
    src = """
        .task 0, t0
        .task 1, t1, 1
        .task 4, t4
        .start 0
        .blocked 1                ; the data task runs after t4 (a fixed start order)
        .dsr d0, fin.f32, 2, 16
        .dsr d1, mem.f32, 0x100, 16, 1
        .dsr d2, fout.f32, 3, 16
        .dsr d3, fout.i16, 4, 8, ctrl
        .dsr d4, mem.i16, 0x200, 8, 1
        .data 0x200
        .half 1, 2, 3, 4, 5, 6, 7, 8
        .text
        t0: vmov.f32 d1, d0, done=4
            li r1, 0x40000000
            vmuls.i16 d3, d4, r1
            end
        t1: send r15, 6
            end
        t4: vadds.f32 d2, d1, r0
            unblock 1
            end
    """
    inputs = [(2, rng.getrandbits(32) & 0x7F7FFFFF, 0) for _ in range(16)] + [(1, k, k & 1) for k in range(10)]
    cases.append(golden_case("fabric_backpressure", src, inputs, sram_window=(0, 0x300), stall_prob=0.7,
                             idle_prob=0.5, seed=5))
    # element address errors of ops waiting for fabric input: checked before the wavelet comes
    for sfx, t1 in (("", ""), (", done=1", "\n        .task 1, t1\n        t1: end")):
        src = f"""
        .task 0, t0
        .start 0
        .dsr d1, fin.i32, 3, 4
        .text
        t0: li r1, 0x1ff8
            li r2, 4
            li r3, 1
            dmem.i32 d2, r1, r2, r3
            vmov.i32 d2, d1{sfx}
            end{t1}
        """
        cases.append(golden_case(f"fin_wait_address_error{sfx}", src, [(3, 5, 0), (3, 6, 0)],
                                 sram_window=(0x1f00, 0x2000), max_cycles=3000))
    # docs/isa.md "Ordering": asynchronous memory-only ops on one short accumulator (read-after-write
    # distances below the pipeline depth), a fill before and an FOUT mov after, then a FIN op that
    # overwrites the operand the earlier ops read; each op has its own done task (one start each)
    src = f"""
        .task 0, t0
        .start 0
        .dsr d0, mem.f32, 0x100, 3, 1
        .dsr d1, mem.f32, 0x200, 3, 1
        .dsr d2, fout.f32, 5, 3
        .dsr d3, fin.f32, 2, 3
        .dsr d4, mem.f32, 0x300, 2, 1
        .data 0x200
        .word {_vals(rng, 3, 32)}
        .text
        t0: li r1, 0x3f800000
            vfill.f32 d0, r1, done=1
            li r2, 0x3fc00000
            fmacs.f32 d0, d1, r2, done=2
            fmacs.f32 d0, d1, r2, done=3
            vadd.f32 d0, d0, d1, done=4
            fmacs.f32 d0, d0, r2, done=6
            vmov.f32 d2, d0, done=7
            vmov.f32 d4, d0, done=8
            vmov.f32 d1, d3, done=9
            end
    """ + "".join(f"\n        .task {t}, e{t}\n        .text\n        e{t}: end" for t in (1, 2, 3, 4, 6, 7, 8, 9))
    inputs = [(2, rng.getrandbits(32) & 0x3FFFFFFF, 0) for _ in range(3)]
    cases.append(golden_case("ordered_memory_only_ops", src, inputs, sram_window=(0, 0x400), stall_prob=0.3))
    # vmax and vcvt: every operand in bank 0 (rows 128 apart), mixed-width groups at half-row offsets,
    # an async narrowing of a max's results (RAW across contexts), and a FIN -> FOUT widening beside
    # them under heavy back-pressure and input idles
    src = f"""
        .task 0, t0
        .task 1, e1
        .start 0
        .dsr d0, mem.f16, 0x002, 61, 1
        .dsr d1, mem.f16, 0x402, 61, 1
        .dsr d2, mem.f16, 0x802, 61, 1
        .dsr d3, mem.f32, 0xC00, 61, 1
        .dsr d4, mem.f32, 0x1000, 61, 1
        .dsr d5, fin.f16, 2, 24
        .dsr d6, fout.f32, 3, 24
        .dsr d7, mem.f16, 0x1400, 61, 1
        .data 0x400
        .half {_vals(rng, 62)}
        .data 0x800
        .half {_vals(rng, 62)}
        .data 0x1000
        .word {_vals(rng, 61, 32)}
        .text
        t0: vmax.f16 d0, d1, d2
            li r1, 0xbf800000
            vmaxs.f32 d3, d4, r1, done=1
            vcvt.f16.f32 d7, d3, done=1
            vcvt.f32.f16 d6, d5
            vcvt.f32.f16 d4, d0
            end
        e1: end
    """
    inputs = [(2, rng.getrandbits(32), 0) for _ in range(24)]
    cases.append(golden_case("vmax_vcvt_bank_conflicts_and_backpressure", src, inputs, sram_window=(0, 0x1500),
                             stall_prob=0.7, idle_prob=0.5, seed=6))
    return cases


def test_rtl_directed():
    results = run_cases(rtl_directed_cases(), "rtl_directed")
    assert all(not r["mismatches"] for r in results)


def _rare_path_programs():
    """Paths the directed and random programs never execute: bind/unbind, a control send, and an
    element error in a micro-thread at a misaligned address."""
    # the directed program whose task 0 never starts (nothing on color 1): here it does
    bind = PROGRAMS["unbound_color_waits_and_bind_unbind"].source
    send_ctrl = ".task 0, m\n.start 0\n.text\nm: li r1, 0x11\n    send.c r1, 3\n    end\n"
    misaligned_async = """
        .task 0, m
        .task 1, fin
        .start 0
        .dsr d1, mem.i32, 0x000, 4, 1
        .dsr d2, mem.i32, 0x100, 4, 1
        .text
        m: li r1, 0x102
           dbase d2, r1, 0
           vmov.i32 d1, d2, done=1
           end
        fin: end
    """
    return [("bind_unbind_executed", bind, [(1, 5), (2, 6)]), ("send_ctrl", send_ctrl, []),
            ("misaligned_async_element", misaligned_async, [])]


def test_every_vector_operand_kind_and_rare_paths():
    """Directed stimulus for the coverage bins random programs do not reach (tb/pe_coverage.py):
    every legal (vector op, destination kind, A kind, B kind, sync/async), bind/unbind and a control
    send retired, an asynchronous misaligned element; all against the golden model."""
    cases = [golden_case(name, p.source, list(p.deliveries), sram_window=(0, 0x300), stall_prob=0.2, idle_prob=0.2,
                         seed=k) for k, (name, p) in enumerate(operand_kind_programs().items())]
    cases += [golden_case(name, src, d, sram_window=(0, 0x300)) for name, src, d in _rare_path_programs()]
    status = cases[-1]["expect"]["status"]
    assert status & 0xF == ErrorCode.MISALIGNED and status >> 5 & 1, hex(status)  # async element error
    results = run_cases(cases, "operand_kinds")
    bad = [(r["name"], r["mismatches"]) for r in results if r["mismatches"]]
    assert not bad, bad[:3]


# ---- the math library on the RTL -----------------------------------------------------------

def test_math_routines_on_rtl():
    """exp, rcp and rsqrt (sdk/kernels/mathlib.py), f32 and f16, over every edge class and random
    patterns, with three DSRs (re-pointed between ops) or six: the RTL's results equal the golden PE
    model's, which equal golden/mathlib.py's bit for bit."""
    import numpy as np

    from golden import mathlib as gm
    from tb.pe_directed import math_inputs as edge_and_random
    from tb.pe_directed import math_program as pe_program

    cases = []
    for k, (name, fmt) in enumerate((r, f) for r in gm.ROUTINES for f in gm.FORMATS):
        x = edge_and_random(fmt, 32, 10 + k)
        dsrs = ("d13", "d14", "d15") if k % 2 else ("d10", "d11", "d12", "d13", "d14", "d15")
        case = golden_case(f"math_{name}_{fmt}", pe_program(name, fmt, x, dsrs), sram_window=(0, 0x800),
                           stall_prob=0.2, idle_prob=0.2, seed=k)
        size, dt = (2, np.uint16) if fmt == "f16" else (4, np.uint32)
        y = np.frombuffer(bytes.fromhex(case["expect"]["sram"])[0x100:0x100 + size * x.size], dtype=dt)
        assert case["expect"]["result"] == "idle" and np.array_equal(y, gm.run(name, x, fmt)), (name, fmt)
        cases.append(case)
    results = run_cases(cases, "mathlib")
    assert all(not r["mismatches"] for r in results)
