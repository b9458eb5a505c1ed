"""The edge autopilot (sdk/cosim/autopilot.py, native_mesh_autopilot.h) changes nothing but speed.

Every scenario runs twice on the same native-mesh build: with the autopilot (the default) and with
TESSERA_AUTOPILOT=0, where the edge harness steps every cycle in Python. Everything observable must
be equal: cycle counts, result bits, activity counters, busy rows, stop reasons, fault reports,
what left the mesh and in which order. The scenarios reach every stop of the run loop: idle,
outputs, a number of cycles, a PE fault, no progress, and progress lines; and the harness hands
back a driver's queue left half sent and the round-robin state.
"""

from __future__ import annotations

import json

import pytest

from sdk.builds.engine_builds import mesh_build
from sdk.cases import gemm_case, gemv_case, run_cases
from sdk.cosim.autopilot import AUTOPILOT_ENV
from sdk.engines.base import Until
from sdk.kernels import row_echo
from sdk.layout import Layout
from sdk.records import DeviceError
from sdk.runtime import Runtime
from tb.builds import run_cocotb
from tb.programs import HALT_WHERE_BAD

pytestmark = [pytest.mark.xdist_group("autopilot_3x4"), pytest.mark.sim]
ROWS, COLS = 3, 4


def both(monkeypatch, play):
    """``play(tag)`` with the autopilot off, then on; returns both results."""
    out = {}
    for on in ("0", "1"):
        monkeypatch.setenv(AUTOPILOT_ENV, on)
        out[on] = play(f"ap{on}")
    return out["0"], out["1"]


def test_kernels_with_counters(monkeypatch):
    def play(tag):
        cases = [gemm_case(ROWS, COLS, 21, 18, 17, "f16", seed=61), gemm_case(ROWS, COLS, 9, 8, 11, "f32", seed=62),
                 gemv_case(ROWS, COLS, 30, 26, 0.3, seed=63)]
        recs = run_cases(cases, build=mesh_build(ROWS, COLS, "small"), run_name=tag, counters=True, progress=500)
        return [{k: r[k] for k in ("cycles", "load_cycles", "bit_exact", "mismatches", "activity")} for r in recs]

    off, on = both(monkeypatch, play)
    assert all(r["bit_exact"] for r in off)
    assert on == off


def test_echo_outputs_cycles_and_order(monkeypatch):
    """Wavelets on two colors into every west link, some runs stopped by outputs, some by a cycle
    count in the middle of the stream (a queue half sent), then idle: every stop's cycles and the
    wavelets received, in order."""
    def play(tag):
        got = []
        with Runtime(row_echo.layout(ROWS, COLS), build=mesh_build(ROWS, COLS, "small"), run_name=tag) as rt:
            for r in range(ROWS):
                rt.send(f"W{r}", 1, list(range(100 * r, 100 * r + 40)))
            played = 0
            for until in (7, Until.outputs({"E0": (2, 15)}), 5, "idle"):
                res = rt.run(until)
                got.append((res.cycles, res.reason, res.busy_rows))
                played += res.autopilot_cycles
            assert (played > 0) == (tag == "ap1"), f"{played} cycles on the autopilot with {tag}"
            got.append({str(k): [tuple(w) for w in v] for k, v in rt.receive().items()})
            got.append(rt.status().to_dict() if hasattr(rt.status(), "to_dict") else str(rt.status()))
        return got

    off, on = both(monkeypatch, play)
    assert sum(len(v) for v in off[4].values()) > 0
    assert on == off


def test_a_fault_and_no_progress(monkeypatch):
    def play(tag):
        out = []
        lay = Layout(ROWS, COLS)
        lay.place(lay.program(HALT_WHERE_BAD, name="faulty"), lay.all(),
                  params=lambda pe: {"BAD": int(pe == (1, 2))})
        with pytest.raises(DeviceError) as e, Runtime(lay, build=mesh_build(ROWS, COLS, "small"), run_name=tag) as rt:
            rt.run("idle")
        out.append((str(e.value), [(f.pe, f.code, f.task, f.pc) for f in e.value.faults]))
        with Runtime(row_echo.layout(ROWS, COLS), build=mesh_build(ROWS, COLS, "small"), run_name=tag + "b") as rt:
            rt.send("W0", 1, [1, 2])
            with pytest.raises(DeviceError) as e:
                rt.run(Until.outputs({"E0": (1, 99)}), max_idle=300)
            out.append((str(e.value), rt.status().row_err))
        return out

    off, on = both(monkeypatch, play)
    assert off[0][1] == [((1, 2), "SRAM_RANGE", 0, 4)]
    assert on == off


def test_streaming_mesh(monkeypatch):
    """tb/cocotb_tile_mesh.py clock_run: every row streaming; the digest of what left the mesh."""
    def play(tag):
        run_dir = run_cocotb(mesh_build(ROWS, COLS, "small"), "tb.cocotb_tile_mesh", "clock_run", profile="small",
                             rows=ROWS, cols=COLS, cycles=700, report=f"{tag}.json")
        rep = json.loads((run_dir / f"{tag}.json").read_text())
        return {k: rep[k] for k in ("delivered", "load_cycles", "digest")}

    off, on = both(monkeypatch, play)
    assert off["delivered"] > 0
    assert on == off
