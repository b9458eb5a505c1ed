"""The FPGA engine: a board's mesh behind the UART host bridge (hdl/host_bridge.py, docs/fpga.md).

``BridgeClient`` speaks the bridge's frame protocol (sdk/engines/bridge_protocol.py) over any byte
port with ``write(bytes)`` and ``read(n) -> bytes`` (fewer bytes, or none, after its timeout): a
``serial.Serial`` for a board, the simulated board (``SimulatedBoard``: the board core verilated,
its UART driven bit by bit), or a test double. It keeps the bytes of frames still awaiting their
reply within the bridge's receive FIFO (``rx_depth``, from STATUS), matches replies to requests in
order, and files host-bound wavelets by edge link.

``BridgeEngine`` puts the engine interface (sdk/engines/base.py) on a client, so every SDK host
program runs on a board unchanged:

    Runtime(layout, engine="fpga:/dev/ttyUSB0")   a board (pyserial; baud=1_000_000 by default)
    Runtime(layout, engine="fpga-sim")            the board core simulated (hdl/board_core.py)

Wavelets go out in the order the host sends them (the bridge injects one frame at a time, so a
kernel whose inputs depend on each other sends them in the order the PEs consume them: the GEMM
sends panel by panel). Cycles are the bridge's clock counter (STATUS), which on a board includes
the UART transfer time; the fault report is the FAULTS frame.

Interface:
    BridgeClient(port, timeout=5.0)   .shape (rows, cols, colors)  .rx_depth  .version
        .inject(link, wavelets)  .drain()  .status() -> dict  .reset()  .faults() -> [dict]
        .wait_wavelets(n)  .wavelets {EdgeLink: [Wavelet]}  .received  .acks  .errors()
    board_profile(client, profile=None) -> str      the profile matching the board's STATUS
    BridgeEngine(client, profile=None)              an Engine; BridgeEngine.open(spec, rows, cols, profile)
    SimulatedBoard(rows, cols, profile, divisor=4)  a byte port to the simulated board core
    BridgeTimeout                                   the board did not answer in time (a DeviceError
                                                    and a TimeoutError)
"""

from __future__ import annotations

import os
import time

from hdl.fault import FAULT
from hdl.mesh import EdgeLink
from hdl.profiles import PROFILES, get_profile
from hdl.wavelet import Port

from ..builds.engine_builds import board_core_build
from ..builds.verilator import CocotbFailure, SimulatorSession
from ..errors import DeviceError, EngineUnavailable, SdkError
from ..records import Fault, MeshStatus, RunResult
from ..trace import TraceSpec
from .base import Engine, Until
from .bridge_protocol import FAULTS_FRAME, RESET_FRAME, STATUS_FRAME, FrameLedger, flag_names, inject_frames

__all__ = ["BridgeClient", "BridgeTimeout", "board_profile", "BridgeEngine", "SimulatedBoard"]


class BridgeTimeout(DeviceError, TimeoutError):
    """The board did not answer in time."""


class BridgeClient(FrameLedger):
    def __init__(self, port, timeout: float = 5.0):
        super().__init__()
        self.port, self.timeout = port, timeout
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
        self.feed(data)

    def send(self, frame: bytes, kind: str):
        while not self.fits(frame):
            self._pump()
        self.sent(frame, kind)
        self.port.write(frame)

    def inject(self, link: EdgeLink, wavelets):
        for f in inject_frames(link, wavelets, self.rx_depth):
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


def board_profile(client: BridgeClient, profile: str | None = None) -> str:
    """The profile of the board's mesh: ``profile`` checked against the colors the board reports
    (STATUS), or, when None, the one known profile with that many colors. SdkError otherwise."""
    colors = client.shape[2]
    if profile is not None:
        prof = get_profile(profile)
        if prof.colors != colors:
            raise SdkError(f"the board's mesh has {colors} colors, profile {prof.name} has {prof.colors}")
        return prof.name
    match = [name for name, p in PROFILES.items() if p.colors == colors]
    if len(match) != 1:
        raise SdkError(f"the board's mesh has {colors} colors: "
                       + (f"profiles {', '.join(match)} match; name one with --profile" if match
                          else "no known profile has that many"))
    return match[0]


class BridgeEngine(Engine):
    name = "fpga"

    def __init__(self, client: BridgeClient, profile=None, closer=None):
        rows, cols, _ = client.shape
        super().__init__(rows, cols, board_profile(client, None if profile is None else get_profile(profile).name))
        self.client = client
        self._taken = {}
        self._closer = closer
        self._counted = 0  # host-bound wavelets already accounted for (echoes discarded, outputs taken)

    @classmethod
    def open(cls, spec: str, rows: int, cols: int, profile, timeout: float | None = None, baud: int = 1_000_000,
             **sim_options) -> BridgeEngine:
        """``fpga:<serial port>`` or ``fpga-sim``; the board's mesh must be rows x cols of profile."""
        if spec == "fpga-sim":
            port = SimulatedBoard(rows, cols, profile, **sim_options)
            client = BridgeClient(port, timeout=timeout or 120.0)
            engine = cls(client, profile, closer=port.close)
            engine.name = "fpga-sim"
        else:
            try:
                import serial
            except ImportError:
                raise EngineUnavailable("the fpga engine needs pyserial: run `make fpga` or "
                               "`.venv/bin/pip install -e '.[fpga]'`") from None
            port = serial.Serial(spec.split(":", 1)[1], baud, timeout=0.1)
            engine = cls(BridgeClient(port, timeout=timeout or 5.0), profile, closer=port.close)
            engine.memory_zero = False  # the board may hold an earlier program's data
        if (engine.rows, engine.cols) != (rows, cols):
            engine.close()
            raise SdkError(f"the board's mesh is {engine.rows}x{engine.cols}, the layout {rows}x{cols}")
        return engine

    def close(self):
        if self._closer is not None:
            self._closer()
            self._closer = None

    def reset(self):
        self.client.reset()
        self.client.wavelets.clear()
        self._taken.clear()

    def load(self, streams: dict, settle: bool = True):
        c, m = self.client, self.profile.mgmt_color
        st0 = c.status()
        want = sum(1 for ws in c.wavelets.values() for w in ws if w.color == m) + sum(map(len, streams.values()))
        for r, stream in streams.items():
            c.inject(EdgeLink(Port.W, int(r)), stream)
        c.drain()
        while sum(1 for ws in c.wavelets.values() for w in ws if w.color == m) < want:
            c._pump()
        for key in list(c.wavelets):  # the echo is the loader's, not the program's
            kept = [w for w in c.wavelets[key][self._taken.get(key, 0):] if w.color != m]
            c.wavelets[key][self._taken.get(key, 0):] = kept
        st1 = c.status()
        return st1["cycles"] - st0["cycles"]

    def inject(self, link: EdgeLink, wavelets):
        self.client.inject(link, list(wavelets))

    def _got(self, link: EdgeLink, color) -> int:
        return sum(1 for w in self.client.wavelets.get(link, [])[self._taken.get(link, 0):] if w.color == color)

    def run(self, until: Until, max_idle: int = 20000, progress: int = 0, counters: bool = False,
            trace: TraceSpec | None = None) -> RunResult:
        self._no_probes(counters, trace)
        c = self.client
        t0 = time.monotonic()
        st0 = c.status()
        reason = None
        try:
            c.drain()
            if until.kind == "outputs":
                links = until.expected()
                while any(self._got(lk, col) < n for lk, (col, n) in links.items()):
                    c._pump()
                reason = "outputs"
            elif until.kind == "cycles":
                while c.status()["cycles"] - st0["cycles"] < until.n:
                    pass
                reason = "cycles"
            else:
                seen = -1
                while True:
                    st = c.status()
                    if all(st["row_idle"]) and c.received == seen:
                        break
                    seen = c.received
                reason = "idle"
        except BridgeTimeout:
            reason = "stalled"
        st1 = c.status()
        if c.errors() or st1["flags"]:
            raise DeviceError(f"the bridge reported errors: {c.errors()}, flags {flag_names(st1['flags'])}")
        return RunResult(cycles=st1["cycles"] - st0["cycles"], reason=reason, status=self.status(),
                         wall_seconds=time.monotonic() - t0)

    def take(self) -> dict:
        out = {}
        for link, ws in self.client.wavelets.items():
            k = self._taken.get(link, 0)
            if len(ws) > k:
                out[link] = list(ws[k:])
                self._taken[link] = len(ws)
        return out

    def status(self) -> MeshStatus:
        st = self.client.status()
        faults = []
        if any(st["row_err"]) or any(st["row_halted"]):
            for r, f in enumerate(self.client.faults()):
                fault = Fault.from_word(r, FAULT.pack(f))
                if fault is not None:
                    faults.append(fault)
        return MeshStatus(st["row_err"], st["row_idle"], st["row_halted"], faults)


class SimulatedBoard:
    """A byte port to the board core (hdl/board_core.py: UART + host bridge + mesh) verilated and
    simulated with its UART line driven bit by bit (sdk/cosim/board_server.py): what a USB serial
    adapter would see, at ``divisor`` clock cycles per bit. ``read`` waits up to ``timeout``
    seconds of wall time for the first byte."""

    def __init__(self, rows, cols, profile="small", divisor: int = 4, timeout: float = 0.2, console=False,
                 run_name=None):
        try:
            self.build = board_core_build(rows, cols, profile, divisor)
        except ValueError as e:  # a profile, mesh or divisor the board core cannot have
            raise SdkError(str(e)) from None
        self.timeout = timeout
        self._rx = bytearray()
        try:
            self._session = SimulatorSession(self.build, "sdk.cosim.board_server", "serve", {"divisor": divisor},
                                             run_name or f"fpga-sim-{os.getpid()}", console=console)
        except CocotbFailure as e:
            raise DeviceError(f"the simulated board did not start: {e}") from None
        self._sock = self._session.sock

    def write(self, data: bytes):
        self._sock.sendall(bytes(data))

    def read(self, n: int = 1) -> bytes:
        if not self._rx:
            self._sock.settimeout(self.timeout)
            try:
                chunk = self._sock.recv(4096)
            except TimeoutError:
                chunk = None
            if chunk == b"":
                raise DeviceError(f"the simulated board stopped: {self._session.failure}")
            if chunk:
                self._rx += chunk
        out = bytes(self._rx[:n])
        del self._rx[:n]
        return out

    def close(self):
        self._session.close()
