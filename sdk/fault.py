"""One faulty tile, as the SDK reports it (re-exported by sdk/records.py).

Interface:
    Fault(pe, code, task, pc, async_, halted, router_errors, loader_error, drops)
        ``str(fault)``: "PE (0, 2): halted: SRAM_RANGE in task 1 at pc 12"
        Fault.from_word(row, word)   decode an hdl/fault.py FaultInfo word of a row
        .to_dict() / .to_json() / Fault.from_dict(d) / Fault.from_json(text)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from hdl.fault import FAULT
from hdl.isa import ErrorCode
from hdl.router import RouterError

__all__ = ["Fault"]


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
    drops: int = 0  # the router's drop counter (saturates at 65535), where the engine reads it

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
        if self.drops:
            parts.append(f"{self.drops} wavelet{'s' if self.drops != 1 else ''} dropped")
        if self.loader_error:
            parts.append("malformed management header")
        return f"PE {self.pe}: " + "; ".join(parts or ["error"])
