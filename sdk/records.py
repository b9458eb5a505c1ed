"""Typed records of the SDK: mesh status, fault reports, run results and kernel records, each with a
JSON round trip (``to_json()`` / ``from_json()``), and the SDK's exceptions.

Interface:
    Fault(pe, code, task, pc, async_, halted, router_errors, loader_error)   one faulty tile;
        ``str(fault)``: "PE (0, 2) halted: SRAM_RANGE in task 1 at pc 12"
        Fault.from_word(row, word)   decode an hdl/fault.py FaultInfo word of a row
    MeshStatus(row_err, row_idle, row_halted, faults)     .ok  .all_idle
    RunResult(cycles, reason, status, busy_rows, wall_seconds, counters)
        cycles: the engine's clock cycles of the run (None on the golden engine, which is not
        cycle-accurate); reason: "idle" | "outputs" | "cycles"
    KernelRecord        one kernel run's figures and checks: fixed fields plus ``figures``; reads
                        like a dict (``record["utilization"]``) and serialises flat
    DeviceError         a run-time error on the mesh: faulty tiles (``.faults``) or no progress
    SdkError            bad input to the layout or the runtime, raised before anything runs
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from hdl.fault import FAULT
from hdl.isa import ErrorCode
from hdl.router import RouterError

__all__ = ["Fault", "MeshStatus", "RunResult", "KernelRecord", "DeviceError", "SdkError"]


class SdkError(ValueError):
    """Bad input to the layout or the runtime, found before anything runs."""


class DeviceError(RuntimeError):
    """A run-time error on the mesh: a PE halted, a router or loader flagged an error, or the mesh
    stopped making progress. ``faults`` lists the faulty tiles, ``status`` the mesh status."""

    def __init__(self, message: str, faults=(), status=None):
        self.faults = list(faults)
        self.status = status
        if self.faults:
            message += "\n  " + "\n  ".join(str(f) for f in self.faults)
        super().__init__(message)


class _Json:
    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict):
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class Fault(_Json):
    pe: tuple
    code: str = "NONE"  # the PE's ErrorCode name
    task: int = 0
    pc: int = 0
    async_: bool = False
    halted: bool = False
    router_errors: list = field(default_factory=list)  # RouterError names
    loader_error: bool = False

    def __post_init__(self):
        self.pe = tuple(self.pe)

    @classmethod
    def from_word(cls, row: int, word: int) -> Fault | None:
        f = FAULT.unpack(word)
        if not f["valid"]:
            return None
        return cls(pe=(row, f["col"]), code=ErrorCode(f["pe_status.code"]).name, task=f["pe_status.task"],
                   pc=f["pe_status.pc"], async_=bool(f["pe_status.async_"]), halted=bool(f["pe_status.halted"]),
                   router_errors=[e.name for e in RouterError if f["router_errors"] >> e & 1],
                   loader_error=bool(f["mgmt_error"]))

    def __str__(self) -> str:
        parts = []
        if self.code != "NONE":
            where = "an asynchronous vector op issued by task" if self.async_ else "task"
            parts.append(f"{'halted: ' if self.halted else ''}{self.code} in {where} {self.task} at pc {self.pc}")
        if self.router_errors:
            parts.append("router error " + ", ".join(self.router_errors))
        if self.loader_error:
            parts.append("malformed management header")
        return f"PE {self.pe}: " + "; ".join(parts or ["error"])


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
    counters: dict | None = None  # per-PE counters (flat engine, when asked)

    @classmethod
    def from_dict(cls, d: dict):
        d = dict(d)
        d["status"] = MeshStatus.from_dict(d["status"])
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

    def to_dict(self) -> dict:
        """Flat: the fixed fields and the kernel's figures side by side (the JSON reports' shape)."""
        d = asdict(self)
        return {**{k: v for k, v in d.items() if k != "figures"}, **d["figures"]}

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)} - {"figures"}
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
        if key in {f.name for f in fields(self)} - {"figures"}:
            setattr(self, key, value)
        else:
            self.figures[key] = value

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default
