"""Typed records of the SDK: mesh status, fault reports, run results and kernel records, each with a
JSON round trip (``to_json()`` / ``from_json()``), and the SDK's exceptions.

Interface:
    Fault(pe, code, task, pc, async_, halted, router_errors, loader_error, drops)   one faulty tile
        (defined in sdk/fault.py);
        ``str(fault)``: "PE (0, 2) halted: SRAM_RANGE in task 1 at pc 12"
        Fault.from_word(row, word)   decode an hdl/fault.py FaultInfo word of a row
    MeshStatus(row_err, row_idle, row_halted, faults)     .ok  .all_idle
    RunResult(cycles, reason, status, busy_rows, wall_seconds, activity, trace, autopilot_cycles)
        cycles: the engine's clock cycles of the run (None on the golden engine, which is not
        cycle-accurate); reason: "idle" | "outputs" | "cycles"; activity: the tiles' counters over
        the run (sdk/activity.py Activity, when asked); trace: the raw timeline (sdk/trace.py)
    KernelRecord        one kernel run's figures and checks: fixed fields plus ``figures``; reads
                        like a dict (``record["utilization"]``) and serialises flat
    DeviceError         a run-time error on the mesh: faulty tiles (``.faults``) or no progress
    SdkError            bad input to the layout or the runtime, raised before anything runs
                        (both defined in sdk/errors.py with the rest of the SDK's errors)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from .activity import Activity
from .errors import DeviceError, SdkError
from .fault import Fault, _Json

__all__ = ["Fault", "MeshStatus", "RunResult", "KernelRecord", "DeviceError", "SdkError"]


@dataclass
class MeshStatus(_Json):
    row_err: list
    row_idle: list
    row_halted: list
    faults: list = field(default_factory=list)  # [Fault]

    @property
    def ok(self) -> bool:
        return not any(self.row_err) and not any(self.row_halted) and not self.faults

    @property
    def all_idle(self) -> bool:
        return all(self.row_idle)

    @classmethod
    def from_dict(cls, d: dict):
        return cls(d["row_err"], d["row_idle"], d["row_halted"],
                   [f if isinstance(f, Fault) else Fault.from_dict(f) for f in d.get("faults", [])])


@dataclass
class RunResult(_Json):
    cycles: int | None
    reason: str
    status: MeshStatus
    busy_rows: list | None = None  # per row: the fraction of the run's cycles some PE was busy
    wall_seconds: float = 0.0
    activity: object | None = None  # sdk.activity.Activity over the run (native, flat engines, when asked)
    trace: dict | None = None  # the raw timeline trace (native engine, when asked)
    autopilot_cycles: int = 0  # cycles the edge autopilot played in C++ (native engine)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["status"] = self.status.to_dict()
        if self.activity is not None:
            d["activity"] = self.activity.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict):
        d = dict(d)
        d["status"] = MeshStatus.from_dict(d["status"])
        if d.get("activity") is not None:
            d["activity"] = Activity.from_dict(d["activity"])
        return super().from_dict.__func__(cls, d)


@dataclass
class KernelRecord(_Json):
    """The figures and checks of one kernel run (GEMM, GEMV, collectives, ...)."""
    name: str
    kind: str
    rows: int
    cols: int
    profile: str
    engine: str
    cycles: int | None
    load_cycles: int | None
    bit_exact: bool
    mismatches: int = 0
    first_mismatch: dict | None = None
    wall_seconds: float = 0.0
    figures: dict = field(default_factory=dict)  # kernel-specific: shape, utilisation, errors, ...
    #: the run's sdk.activity.Activity when counters were asked for (not serialised: its figures are)
    activity: object = field(default=None, repr=False, compare=False)
    #: the run's raw timeline trace (sdk/trace.py) when one was asked for (not serialised)
    trace: dict | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Flat: the fixed fields and the kernel's figures side by side (the JSON reports' shape)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("figures", "activity", "trace")}
        return {**d, **self.figures}

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)} - {"figures", "activity", "trace"}
        return cls(**{k: v for k, v in d.items() if k in names},
                   figures={k: v for k, v in d.items() if k not in names})

    def __getitem__(self, key):
        """``record["utilization"]``: a fixed field or a figure."""
        if key in self.figures:
            return self.figures[key]
        if key in {f.name for f in fields(self)}:
            return getattr(self, key)
        raise KeyError(key)

    def __setitem__(self, key, value):
        """``record["dense_cycles"] = ...``: a fixed field, or else a figure."""
        if key in {f.name for f in fields(self)} - {"figures", "activity", "trace"}:
            setattr(self, key, value)
        else:
            self.figures[key] = value

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default
