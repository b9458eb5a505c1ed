"""The host side on a real board, from the command line: SDK host programs over the serial bridge.

The board is an SDK engine (sdk/engines/bridge.py ``BridgeEngine``), so everything here is an
ordinary SDK host program; ``make fpga`` first, then program the board (e.g. ``openFPGALoader -b
ulx3s build/fpga/ulx3s-1x1-fpga/tessera.bit``):

    python -m fpga.host --port /dev/ttyUSB0 [--baud 1000000] status
    python -m fpga.host --port /dev/ttyUSB0 reset
    python -m fpga.host --port /dev/ttyUSB0 selftest [--per-row 16]
    python -m fpga.host --port /dev/ttyUSB0 gemm [--m 16 --k 16 --n 16 --dtype f16 --density 0.1 --seed 1]

``--port sim`` runs the same commands on the simulated board core (``fpga-sim``: the board's
Verilog with its UART driven bit by bit; ``--rows``/``--cols``/``--profile`` give its mesh).

``selftest`` runs the front-door smoke program (sdk/kernels/row_echo.py) and checks what leaves
the east edge against the golden engine. ``gemm`` is the ``make sim`` demo on the board: the same
GEMM and sparse-GEMV cases (sdk/cases.py), checked bit for bit against golden/matmul.py,
with the same summary table (cycles are the bridge's clock counter, so on a board they include the
UART transfer time).

Interface:
    open_engine(port, baud, profile=None, rows=1, cols=1) -> BridgeEngine
    selftest(engine, per_row=16) -> dict        raises AssertionError on a mismatch
    gemm_demo(engine, m, k, n, dtype="f16", density=0.1, seed=1) -> [KernelRecord]
    main(argv) -> exit status (2 for bad input or a missing tool)
"""

import argparse
import sys
import time
from collections import Counter

from sdk import DeviceError, EngineUnavailable, Runtime, SdkError
from sdk.cases import format_table, gemm_case, gemv_case, run_cases
from sdk.engines.bridge import BridgeClient, BridgeEngine
from sdk.engines.bridge_protocol import flag_names
from sdk.kernels import row_echo

__all__ = ["open_engine", "selftest", "gemm_demo", "main"]


def open_engine(port: str, baud: int = 1_000_000, profile: str | None = None, rows: int = 1, cols: int = 1,
                timeout: float | None = None) -> BridgeEngine:
    if port == "sim":
        return BridgeEngine.open("fpga-sim", rows, cols, profile or "small", timeout=timeout)
    try:
        import serial
    except ImportError:
        raise EngineUnavailable("pyserial is missing: run `make fpga` or "
                                "`.venv/bin/pip install -e '.[fpga]'`") from None
    ser = serial.Serial(port, baud, timeout=0.1)
    engine = BridgeEngine(BridgeClient(ser, timeout=timeout or 5.0), profile, closer=ser.close)
    engine.memory_zero = False
    return engine


def selftest(engine, per_row: int = 16) -> dict:
    """The row-echo program on the board and on the golden engine: the east edges must agree."""
    t0 = time.monotonic()
    rows, cols, prof = engine.rows, engine.cols, engine.profile.name
    got = {}
    for eng in (engine, "golden"):
        rt = Runtime(row_echo.layout(rows, cols, prof), engine=eng)
        for link, payloads in row_echo.inputs(rows, per_row).items():
            rt.send(link, 1, payloads)
        rt.run("idle")
        got[rt.engine.name] = {link: Counter(ws) for link, ws in rt.receive().items()}
        if eng == "golden":
            rt.close()
    board, golden = got[engine.name], got["golden"]
    assert board == golden, f"east edge differs from the golden engine: board {board}, golden {golden}"
    assert golden == row_echo.expected(rows, cols, per_row), "the golden engine disagrees with the program's spec"
    checked = sum(sum(c.values()) for c in board.values())
    return {"rows": rows, "cols": cols, "profile": prof, "results_checked": checked,
            "seconds": round(time.monotonic() - t0, 2)}


def gemm_demo(engine, m, k, n, dtype="f16", density=0.1, seed=1) -> list:
    """The make-sim demo on the board: a GEMM and a sparse GEMV checked against the golden models."""
    rows, cols, prof = engine.rows, engine.cols, engine.profile.name
    cases = [gemm_case(rows, cols, m, k, n, dtype, prof, seed), gemv_case(rows, cols, m, k, density, prof, seed)]
    return run_cases(cases, engine=engine)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fpga.host", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB0, or 'sim' for the simulated board")
    ap.add_argument("--baud", type=int, default=1_000_000)
    ap.add_argument("--profile", default=None,
                    help="the bitstream's profile (default: the known profile with the colors the board reports)")
    ap.add_argument("--rows", type=int, default=1, help="--port sim: the simulated mesh")
    ap.add_argument("--cols", type=int, default=1, help="--port sim: the simulated mesh")
    ap.add_argument("--per-row", type=int, default=16)
    for name, default in (("m", 16), ("k", 16), ("n", 16), ("seed", 1)):
        ap.add_argument(f"--{name}", type=int, default=default, help="gemm: matrix sizes and data seed")
    ap.add_argument("--dtype", default="f16", help="gemm: f16 (f32 accumulation) or f32")
    ap.add_argument("--density", type=float, default=0.1, help="gemm: sparse GEMV density")
    ap.add_argument("command", choices=("status", "reset", "selftest", "gemm"))
    a = ap.parse_args(argv)
    try:
        engine = open_engine(a.port, a.baud, a.profile, a.rows, a.cols)
    except (SdkError, OSError) as e:  # OSError: the serial port
        print(f"fpga.host: error: {e}", file=sys.stderr)
        return 2
    try:
        if a.command == "status":
            st = engine.client.status()
            st["flag_names"] = flag_names(st["flags"])
            print(st)
        elif a.command == "reset":
            engine.reset()
            print("reset done")
        elif a.command == "selftest":
            print(selftest(engine, a.per_row))
        else:
            try:
                recs = gemm_demo(engine, a.m, a.k, a.n, a.dtype, a.density, a.seed)
            except DeviceError:  # a failure on the board, not a bad request
                raise
            except SdkError as e:  # a request the mesh cannot run
                print(f"fpga.host: error: {e}", file=sys.stderr)
                return 2
            print(format_table(recs))
            ok = all(r["bit_exact"] and r["f64_bound_ok"] for r in recs)
            print("PASS (bit-exact against the golden models)" if ok else "FAIL")
            return 0 if ok else 1
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
