"""The PE's load bus and debug-read port: signatures, address map and word formats (docs/pe.md).

One definition, imported by the PE RTL (hdl/pe/), the management loader (hdl/mgmt.py) and every
host that loads a PE (sdk/loader.py, the single-PE testbench).

Load bus (write-only): ``addr[19:16]`` selects a ``LoadRegion``, ``addr[15:0]`` the index in it:

    IMEM  word index        the instruction word
    SRAM  32-bit word index the little-endian word at byte address index * 4
    TASK  task ID           TaskWord: entry PC, valid, pending (.start), blocked
    BIND  color             BindWord: task, valid
    DSR   2 * n + half      half 0: bits 31:0, half 1: bits 63:32 of packed DSR n
    CTRL  0                 Ctrl bits: RUN (scheduler enabled while 1), CLEAR (pulse), ZERO (sweep)

Debug read port (testbench only): ``addr[19:16]`` a ``DbgRegion``.

Interface:
    LOAD_ADDR_BITS (20), LoadSignature, DbgSignature
    LoadRegion, DbgRegion, Ctrl                enums
    LoadAddr, TaskWord, BindWord               lib.data layouts; TASK_WORD, BIND_WORD, LOAD_ADDR Packers
    load_addr(region, index) -> int            a load-bus address
    dbg_addr(region, index) -> int             a debug-port address
"""

from __future__ import annotations

import enum

from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .packing import Packer

__all__ = ["LOAD_ADDR_BITS", "LoadSignature", "DbgSignature", "LoadRegion", "DbgRegion", "Ctrl", "LoadAddr", "TaskWord",
           "BindWord", "LOAD_ADDR", "TASK_WORD", "BIND_WORD", "load_addr", "dbg_addr"]

LOAD_ADDR_BITS = 20


class LoadRegion(enum.IntEnum):
    """Load-bus regions (``addr[19:16]``)."""
    IMEM = 0
    SRAM = 1
    TASK = 2
    BIND = 3
    DSR = 4
    CTRL = 5


class DbgRegion(enum.IntEnum):
    """Debug-read regions (``addr[19:16]``)."""
    GPR = 0
    DSR = 1
    SRAM = 2
    TASK = 3
    BIND = 4


class Ctrl(enum.IntFlag):
    """Bits of the word written to the CTRL region."""
    RUN = 1
    CLEAR = 2
    ZERO = 4


LoadAddr = data.StructLayout({"index": 16, "region": 4})
TaskWord = data.StructLayout({"entry": 16, "valid": 1, "pending": 1, "blocked": 1})
BindWord = data.StructLayout({"task": 5, "rsv": 3, "valid": 1})

LOAD_ADDR = Packer(LoadAddr)
TASK_WORD = Packer(TaskWord)
BIND_WORD = Packer(BindWord)

LoadSignature = wiring.Signature({"we": Out(1), "addr": Out(LOAD_ADDR_BITS), "data": Out(32)})
DbgSignature = wiring.Signature({"req": Out(1), "addr": Out(LOAD_ADDR_BITS), "rdata": In(64)})


def load_addr(region: LoadRegion, index: int) -> int:
    return LOAD_ADDR.pack(region=LoadRegion(region), index=index)


def dbg_addr(region: DbgRegion, index: int) -> int:
    return LOAD_ADDR.pack(region=DbgRegion(region), index=index)
