"""The host side on a real board: the bridge protocol over a serial port (pyserial).

``BridgeClient(port)`` works with any object that has ``write(bytes)`` and ``read(n) -> bytes``
(returning fewer bytes, or none, after its timeout): a ``serial.Serial`` for a board, or a test
double. It applies the same rules as the cocotb host (tb/uart_host.py): the bytes of frames still
awaiting their reply stay within the bridge's receive FIFO (``rx_depth``, read from the first
STATUS), replies are matched to requests in order, and host-bound wavelets are filed by edge link.

Command line (``make fpga`` first, then program the board, e.g. ``openFPGALoader -b ulx3s
build/fpga/ulx3s-1x1/tessera.bit``):

    python -m fpga.host --port /dev/ttyUSB0 [--baud 1000000] status
    python -m fpga.host --port /dev/ttyUSB0 reset
    python -m fpga.host --port /dev/ttyUSB0 selftest [--per-row 16]
    python -m fpga.host --port /dev/ttyUSB0 gemm [--m 16 --k 16 --n 16 --dtype f16 --density 0.1 --seed 1]

``selftest`` loads routes and a small program into every PE through the west edge, streams values
through each row and checks what leaves the east edge against the golden PE mesh model
(golden/pe_mesh_model.py), like tb/cocotb_fpga.py does in simulation.

``gemm`` is the ``make sim`` demo on the board: the GEMM and sparse-GEMV jobs that tb/gemm_host.py
builds for the simulation host (docs/kernels.md) are played through the bridge, the results are
decoded and compared bit for bit with golden/matmul.py, and the same summary table is printed
(cycles are the bridge's clock-cycle counter around the data phase, so on a board they include
the UART transfer time).

Interface:
    BridgeClient(port, timeout=5.0)   .shape (rows, cols, colors)  .rx_depth  .version (STATUS)
        .inject(side, index, wavelets)  .drain()  .status() -> dict  .reset()
        .faults() -> [{field: value} per row]   every row's fault word (hdl/fault.py; protocol 2)
        .wait_wavelets(n)  .wavelets {(side, index): [(color, payload, ctrl)]}  .acks
    board_profile(client, profile=None) -> str      the profile matching the board's STATUS
    selftest(client, profile=None, per_row=16) -> dict
    play_job(client, job, panels=1) -> {"outputs", "cycles", "load_cycles", "wall_seconds", ...}
    gemm_demo(client, m, k, n, dtype="f16", density=0.1, seed=1, profile=None) -> [record]
"""

import argparse
import sys
import time
from collections import Counter, defaultdict, deque

from .protocol import FAULTS_FRAME, RESET_FRAME, STATUS_FRAME, FrameDecoder, flag_names, inject_frames

__all__ = ["BridgeClient", "BridgeTimeout", "selftest", "play_job", "gemm_demo", "main"]


class BridgeTimeout(TimeoutError):
    """The board did not answer in time."""


class BridgeClient:
    def __init__(self, port, timeout: float = 5.0):
        self.port, self.timeout = port, timeout
        self.decoder = FrameDecoder()
        self.pending = deque()
        self.in_flight = 0
        self.rx_depth = 16  # until the first STATUS says more: every frame we send first is tiny
        self.replies, self.acks = [], []
        self.wavelets = defaultdict(list)
        self.received = 0
        st = self.status()
        self.rx_depth = st["rx_depth"]
        self.shape = (st["rows"], st["cols"], st["colors"])
        self.version = st["version"]

    def _pump(self):
        """Read what the board sent; BridgeTimeout when nothing comes for ``timeout`` seconds."""
        deadline = time.monotonic() + self.timeout
        while True:
            data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            if data:
                break
            if time.monotonic() > deadline:
                raise BridgeTimeout(f"no byte from the board for {self.timeout} s "
                                    f"({len(self.pending)} replies outstanding)")
        for f in self.decoder.feed(data):
            if f[0] == "wavelet":
                self.wavelets[(f[1], f[2])].append(f[3])
                self.received += 1
                continue
            if not self.pending:
                raise ConnectionError(f"unsolicited reply from the board: {f}")
            n, kind = self.pending.popleft()
            if f[0] != kind:
                raise ConnectionError(f"expected a {kind} reply, got {f}")
            self.in_flight -= n
            self.replies.append(f)
            if kind == "ack":
                self.acks.append(f[1:])

    def send(self, frame: bytes, kind: str):
        while self.in_flight + len(frame) > self.rx_depth:
            self._pump()
        self.in_flight += len(frame)
        self.pending.append((len(frame), kind))
        self.port.write(frame)

    def inject(self, side, index, wavelets):
        for f in inject_frames(side, index, wavelets, self.rx_depth):
            self.send(f, "ack")

    def drain(self):
        while self.pending:
            self._pump()

    def status(self) -> dict:
        self.send(STATUS_FRAME, "status")
        self.drain()
        return self.replies[-1][1]

    def reset(self):
        self.send(RESET_FRAME, "reset_done")
        self.drain()

    def faults(self) -> list:
        """Every row's fault word, decoded: [{"valid", "col", "pe_status.code", ...} per row]
        (the westernmost faulty tile of each row; docs/mesh.md)."""
        if self.version < 2:
            raise ConnectionError(f"the board's bridge speaks protocol version {self.version}; FAULTS needs "
                                  "version 2 (rebuild the bitstream)")
        self.send(FAULTS_FRAME, "faults")
        self.drain()
        return self.replies[-1][1]

    def wait_wavelets(self, n: int):
        while self.received < n:
            self._pump()

    def errors(self) -> list:
        return [(s, i, flag_names(f)) for s, i, f in self.acks if f]


def board_profile(client: BridgeClient, profile: str | None = None) -> str:
    """The profile of the board's mesh: ``profile`` checked against the colors the board reports
    (STATUS), or, when None, the one known profile with that many colors. ValueError otherwise."""
    from hdl.profiles import PROFILES, get_profile

    colors = client.shape[2]
    if profile is not None:
        prof = get_profile(profile)
        if prof.colors != colors:
            raise ValueError(f"the board's mesh has {colors} colors, profile {prof.name} has {prof.colors}")
        return prof.name
    match = [name for name, p in PROFILES.items() if p.colors == colors]
    if len(match) != 1:
        raise ValueError(f"the board's mesh has {colors} colors: "
                         + (f"profiles {', '.join(match)} match; name one with --profile" if match
                            else "no known profile has that many"))
    return match[0]


def selftest(client: BridgeClient, profile: str | None = None, per_row: int = 16) -> dict:
    """Routes + a program through the bridge, values through every row, results against the golden
    PE mesh model. Returns a summary; raises AssertionError on a mismatch."""
    from golden.pe_mesh_model import PEMeshModel
    from golden.routing import Port
    from hdl.isa import pe_params
    from hdl.profiles import get_profile
    from tb.kernels import row_echo_setup

    prof = get_profile(board_profile(client, profile))
    rows, cols, colors = client.shape
    t0 = time.monotonic()
    client.reset()
    cin, cout = 1, 2
    mesh, image, streams = row_echo_setup(rows, cols, prof.name, cin, cout)
    for r, s in streams.items():
        client.inject("w", r, s)
    client.drain()
    client.wait_wavelets(sum(map(len, streams.values())))  # the management echo
    client.wavelets.clear()
    base = client.received
    params = pe_params(prof.name)
    model = PEMeshModel(mesh, **{k: params[k] for k in ("sram_kib", "sram_banks", "simd_f16", "colors",
                                                        "imem_words", "uthreads")})
    for pe in model.pe:
        model.load(pe, image)
    for r in range(rows):
        xs = [(cin, (r << 16) + 3 * k, 0) for k in range(per_row)]
        for w in xs:
            model.inject((r, 0), Port.W, *w)
        client.inject("w", r, xs)
    if model.run() != "quiescent":
        raise RuntimeError("the golden model did not settle")
    want = {("e", r): Counter(model.edge_out[((r, cols - 1), Port.E)]) for r in range(rows)}
    client.wait_wavelets(base + sum(sum(c.values()) for c in want.values()))
    got = {("e", r): Counter(client.wavelets.get(("e", r), [])) for r in range(rows)}
    st = client.status()
    assert got == want, f"east edge differs from the golden PE mesh model: got {got}, want {want}"
    assert not client.errors() and st["flags"] == 0, f"bridge errors: {client.errors()}, flags {st['flags']:#x}"
    assert not any(st["row_err"]) and not any(st["row_halted"]), st
    return {"rows": rows, "cols": cols, "load_wavelets": sum(map(len, streams.values())),
            "results_checked": sum(sum(c.values()) for c in want.values()), "cycles": st["cycles"],
            "seconds": round(time.monotonic() - t0, 2)}


def play_job(client: BridgeClient, job: dict, panels: int = 1) -> dict:
    """Play a tb/gemm_host.py job through the bridge, in the order of ``bridge_schedule``
    (management streams, their echo, data panel by panel), then wait for every result wavelet."""
    from tb.gemm_host import bridge_schedule

    t0 = time.monotonic()
    load, data, echo, results = bridge_schedule(job, panels)
    st0 = client.status()
    before = client.received
    for side, index, wavelets in load:
        client.inject(side, index, wavelets)
    client.drain()
    client.wait_wavelets(before + echo)
    client.wavelets.clear()
    base = client.received
    st1 = client.status()
    for side, index, wavelets in data:
        client.inject(side, index, wavelets)
    client.drain()
    client.wait_wavelets(base + results)
    st2 = client.status()
    if client.errors() or st2["flags"] or any(st2["row_err"]) or any(st2["row_halted"]):
        raise AssertionError(f"bridge or mesh error: {client.errors()}, status {st2}")
    outputs = {f"{s.upper()}{i}": [list(w) for w in ws] for (s, i), ws in client.wavelets.items()}
    return {"outputs": outputs, "cycles": st2["cycles"] - st1["cycles"], "load_cycles": st1["cycles"] - st0["cycles"],
            "busy_rows": [], "wall_seconds": time.monotonic() - t0}


def gemm_demo(client: BridgeClient, m, k, n, dtype="f16", density=0.1, seed=1, profile: str | None = None) -> list:
    """The make-sim demo on a board: a GEMM and a sparse GEMV, each checked against the golden
    model; returns tb/gemm_flow.py records."""
    from tb.gemm_flow import gemm_case, gemv_case, record

    profile = board_profile(client, profile)
    rows, cols, _ = client.shape
    cases = [gemm_case(rows, cols, m, k, n, dtype, profile, seed), gemv_case(rows, cols, m, k, density, profile, seed)]
    out = []
    for case in cases:
        client.reset()
        panels = case.plan.panels if case.kind == "gemm" else 1
        out.append(record(case, play_job(client, case.job, panels)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fpga.host", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB0")
    ap.add_argument("--baud", type=int, default=1_000_000)
    ap.add_argument("--profile", default=None,
                    help="the bitstream's profile (default: the known profile with the colors the board reports)")
    ap.add_argument("--per-row", type=int, default=16)
    for name, default in (("m", 16), ("k", 16), ("n", 16), ("seed", 1)):
        ap.add_argument(f"--{name}", type=int, default=default, help="gemm: matrix sizes and data seed")
    ap.add_argument("--dtype", default="f16", help="gemm: f16 (f32 accumulation) or f32")
    ap.add_argument("--density", type=float, default=0.1, help="gemm: sparse GEMV density")
    ap.add_argument("command", choices=("status", "reset", "selftest", "gemm"))
    a = ap.parse_args(argv)
    try:
        import serial
    except ImportError:
        print("fpga.host: pyserial is missing: run `make fpga` or `.venv/bin/pip install -e '.[fpga]'`",
              file=sys.stderr)
        return 2
    with serial.Serial(a.port, a.baud, timeout=0.1) as port:
        client = BridgeClient(port)
        if a.command == "status":
            st = client.status()
            st["flag_names"] = flag_names(st["flags"])
            print(st)
        elif a.command == "reset":
            client.reset()
            print("reset done")
        elif a.command == "selftest":
            try:
                print(selftest(client, a.profile, a.per_row))
            except ValueError as e:  # the profile does not match the board
                print(f"fpga.host: error: {e}", file=sys.stderr)
                return 2
        else:
            from tb.gemm_flow import format_table
            try:
                recs = gemm_demo(client, a.m, a.k, a.n, a.dtype, a.density, a.seed, a.profile)
            except ValueError as e:  # KernelError (a request the mesh cannot run) or a profile mismatch
                print(f"fpga.host: error: {e}", file=sys.stderr)
                return 2
            print(format_table(recs))
            ok = all(r["bit_exact"] and r["f64_bound_ok"] for r in recs)
            print("PASS (bit-exact against the golden models)" if ok else "FAIL")
            return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
