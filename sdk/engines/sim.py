"""The Verilator engines, host side: one simulator process per engine, driven over a socket.

``SimEngine`` builds (or reuses, from build/models/) a Verilator build of the mesh
(sdk/builds/engine_builds.py: ``native`` — the tile compiled once, R x C instances wired in C++;
``hierarchical`` — the generated Verilog mesh top; ``flat`` — the Verilog top verilated whole, for
waveforms and per-PE counters), starts the simulator with the cocotb job server
(sdk/cosim/sim_server.py) on it, and sends it the engine operations of sdk/engines/base.py. The
simulator stays alive between calls, so the host program runs interactively and the mesh keeps
its state; it ends with ``close()`` (or when the host process exits: the socket closes), and within
half a second when the host process is killed, even in the middle of a run (sdk/cosim/lifeline.py).

Interface:
    SimEngine(rows, cols, profile="small", kind="native", threads=1, waves=False, console=False,
              run_name=None, build=None, seed=1, core=True, noise=None, wafer=None, ranks=1)
        an Engine; .build (sdk.builds.verilator.SimBuild: ``build``, or the mesh's build for
        ``kind``), .run_dir, .waves_path (with waves).
        core=False: fabric tiles (router and loader, no PE: for routing studies). noise=(idle,
        stall): every edge input link idles and every output link withholds each color's ready
        with these probabilities each cycle (random backpressure, seeded by ``seed``).
        wafer (hdl.link_plan.Wafer): spares with a defect map, dies: the physical wafer top behind
        the same logical edge (docs/wafer.md)
        ranks: the native mesh in bands of rows over that many MPI ranks, launched with mpiexec
        (sdk/builds/mpi_ranks.py, docs/mesh.md); the same cycles and bits as one process
    PGO_TRAINING                        the workload a native build's tile library is trained on when
                                        TESSERA_PGO is set (sdk/pgo_training.py, named, not
                                        imported: it plays kernels on a Runtime)
"""

from __future__ import annotations

import os
import time

from hdl.mesh import EdgeLink
from hdl.wavelet import Wavelet

from ..activity import Activity
from ..builds.engine_builds import ENGINES, mesh_build
from ..builds.paths import BUILD
from ..builds.verilator import CocotbFailure, SimulatorSession
from ..records import DeviceError, Fault, MeshStatus, RunResult, SdkError
from ..trace import TraceSpec
from .base import Engine, Until
from .wire import recv_msg, send_msg

__all__ = ["SimEngine", "PGO_TRAINING"]

PGO_TRAINING = "sdk.pgo_training"


class SimEngine(Engine):
    def __init__(self, rows, cols, profile="small", kind="native", threads=1, waves=False, console=False,
                 run_name=None, build=None, seed=1, core=True, noise=None, wafer=None, ranks=1):
        super().__init__(rows, cols, profile)
        if kind not in ENGINES:
            raise ValueError(f"unknown Verilator engine {kind!r}; one of {', '.join(ENGINES)}")
        self.kind = "flat" if waves else kind
        self.name = self.kind
        try:
            self.build = build or mesh_build(rows, cols, self.profile, core, engine=self.kind, waves=waves,
                                             threads=threads, wafer=wafer, ranks=ranks, training=PGO_TRAINING)
        except SdkError:  # no MPI for the ranks (EngineUnavailable)
            raise
        except ValueError as e:  # a wafer or ranks the mesh/engine cannot have
            raise SdkError(str(e)) from None
        self.waves, self.console, self.seed, self.noise = waves, console, seed, noise
        # a folder of its own per process by default: two simulators on one build never share one
        self.run_name = run_name or f"sdk-{os.getpid()}"
        self.run_dir = BUILD / "runs" / f"{self.build.name}-{self.build.key}" / self.run_name
        self.waves_path = self.run_dir / "dump.fst" if waves else None
        self._sock = None
        self._session = None

    # ---- the simulator process ---------------------------------------------------------------
    def _start(self):
        config = {"rows": self.rows, "cols": self.cols, "profile": self.profile.name, "seed": self.seed,
                  "noise": self.noise}
        try:
            self._session = SimulatorSession(self.build, "sdk.cosim.sim_server", "serve", config, self.run_name,
                                             waves=self.waves, console=self.console)
        except CocotbFailure as e:
            raise DeviceError(f"the {self.kind} engine did not start: {e}") from None
        self._sock = self._session.sock

    def _call(self, cmd: str, **args) -> dict:
        if self._sock is None:
            self._start()
        try:
            send_msg(self._sock, {"cmd": cmd, **args})
            reply = recv_msg(self._sock)
        except OSError as e:
            reply, err = None, e
        else:
            err = None
        if reply is None:
            self._session.wait(timeout=30)
            raise DeviceError(f"the {self.kind} simulator stopped during {cmd!r}: {self._session.failure or err}; "
                              f"log: {self.run_dir / 'sim.log'}")
        if "error" in reply:
            raise DeviceError(f"{self.kind} engine, {cmd}: {reply['error']}")
        return reply

    def close(self):
        if self._sock is not None:
            try:
                send_msg(self._sock, {"cmd": "close"})
            except OSError:
                pass
            self._sock = None
            self._session.close()
            if self._session.failure is not None:
                raise DeviceError(f"the {self.kind} simulator failed: {self._session.failure}")

    # ---- engine operations -------------------------------------------------------------------
    def reset(self):
        self._call("reset")

    def load(self, streams: dict, settle: bool = True) -> int:
        return self._call("load", streams={str(r): [list(w) for w in s] for r, s in streams.items()},
                          settle=settle)["cycles"]

    def inject(self, link: EdgeLink, wavelets):
        self._call("inject", link=str(link), wavelets=[list(w) for w in wavelets])

    def run(self, until: Until, max_idle: int = 20000, progress: int = 0, counters: bool = False,
            trace: TraceSpec | None = None) -> RunResult:
        if trace and self.kind != "native":
            raise SdkError(f"a timeline trace needs the native engine, not {self.kind}")
        if trace and getattr(self.build, "ranks", 1) > 1:
            raise SdkError(f"a timeline trace needs the native engine in one process, not on {self.build.ranks} "
                           "MPI ranks")
        if counters and self.kind == "hierarchical":
            raise SdkError("per-tile counters: the hierarchical engine cannot see inside its tiles (native and "
                           "flat can)")
        t0 = time.monotonic()
        r = self._call("run", until=until.to_wire(), max_idle=max_idle, progress=progress, counters=counters,
                       trace=trace.to_dict() if trace else None)
        act = Activity.from_dict(r["activity"]) if r["activity"] is not None else None
        return RunResult(cycles=r["cycles"], reason=r["reason"], status=self.status(), busy_rows=r["busy_rows"],
                         wall_seconds=time.monotonic() - t0, activity=act, trace=r["trace"],
                         autopilot_cycles=r.get("autopilot_cycles", 0))

    def probe(self) -> Activity:
        if self.kind == "hierarchical":
            return super().probe()
        return Activity.from_dict(self._call("probe")["activity"])

    def take(self) -> dict:
        out = self._call("take")["outputs"]
        return {EdgeLink.parse(k): [Wavelet(*w) for w in v] for k, v in out.items()}

    def status(self) -> MeshStatus:
        s = self._call("status")
        if s.get("faults") is not None:  # every faulty tile, from the probes
            faults = [Fault.from_dict(f) for f in s["faults"]]
        elif s["row_fault"] is not None:  # the westernmost faulty tile of each row, from the fault chain
            faults = [f for r, w in enumerate(s["row_fault"]) if (f := Fault.from_word(r, w)) is not None]
        else:
            faults = []
        return MeshStatus(s["row_err"], s["row_idle"], s["row_halted"], faults)

    def note(self, text: str):
        self._call("note", text=text)
