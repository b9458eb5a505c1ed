"""Shapes, layouts, port signatures and helpers shared by the PE's components (hdl/pe/).

Role
----
The vocabulary the components of the PE speak to each other: what a RAMP queue entry, a vector
op launched into a context and an element group in the vector pipeline look like, and the
signatures of the ports between the components. Instruction, DSR, status and load-bus formats
are not here: they come from hdl/isa.py and hdl/loadmap.py.

Interface
---------
ADDR                        shape of an exact element address (base + i * stride * size)
Operand                     how a vector op reads operand A or B: NONE, MEM, FIN
VecFunc                     the vector function (op[2:1] of the opcodes 0x30..0x37; MAX, CVT, SHIFT,
                            LOGIC)
RowSrc                      where the C stage finds a group's row: RD0, RD1, HOLD, ABUF
QEntry                      layout of one RAMP input queue entry (payload, ctrl)
VecOp                       layout of a vector op as the core launches it into a context
ErrorReport                 layout of an error that halts the PE (valid, code, async_, task, pc)
TaskStart                   layout of the scheduler's next task (task, entry, r14, r15)
BindReq, FlagReq            layouts of the core's BIND and ACTIVATE/BLOCK/UNBLOCK requests
group_layout(nctx, lanes, row_bits)      an element group in flight through the vector pipeline
pending_write_layout(nctx, row_bits)     a group that will write a row (RAW interlock)
QueueSignature(colors)      the input queues' heads, second entries and counts (producer side)
ScalarMemSignature(rb)      the scalar core's SRAM ports (client side)
port_use_layout(row_bits)   what the SRAM ports do apart from the vector engine's reads
VectorMemSignature(rb)      the vector engine's SRAM ports and their other use (client side)
select(m, items, index, shape, name)     Array(items)[index] as one named Signal
"""

from __future__ import annotations

import enum

from amaranth import Array, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..isa import PC_BITS, TASK_BITS, Opcode, StartInfo
from ..sram import ROW_BITS, ReadPortSignature, WritePortSignature
from ..wavelet import COLOR_BITS, PAYLOAD_BITS

__all__ = ["ADDR", "Operand", "VecFunc", "RowSrc", "QEntry", "VecOp", "ErrorReport", "TaskStart", "BindReq",
           "FlagReq", "group_layout", "pending_write_layout", "port_use_layout", "QueueSignature", "ScalarMemSignature",
           "VectorMemSignature", "select"]

# Exact element addresses: base + i * stride * size spans about +-2**33, so a descriptor that runs
# off either end of the SRAM is caught at the element that leaves it.
ADDR = signed(36)


class Operand(enum.IntEnum):
    """How a vector op reads its operand A or B (the source DSR's kind, or no operand at all)."""
    NONE = 0
    MEM = 1
    FIN = 2


class VecFunc(enum.IntEnum):
    """Vector function. For the opcodes 0x30..0x37 it is op[2:1] (op[0] selects the scalar form);
    vmax/vmaxs (op[0] likewise), vcvt and the i32 bit ops vsh and vlogs (always scalar forms),
    decoded from their own opcodes, follow."""
    FMAC = (Opcode.FMAC >> 1) & 3
    ADD = (Opcode.VADD >> 1) & 3
    MUL = (Opcode.VMUL >> 1) & 3
    MOV = (Opcode.VMOV >> 1) & 3  # vmov and vfill (its scalar form)
    MAX = 4  # vmax, vmaxs: a compare on the integer path beside the FPLanes
    CVT = 5  # vcvt: the FPLane conversions
    SHIFT = 6  # vsll/vsrl/vsra.i32 (vsh): by the scalar, on the integer path; m = ShiftMode
    LOGIC = 7  # vands/vors/vxors.i32 (vlogs): with the scalar, on the integer path; m = LogicMode


assert (Opcode.VFILL >> 1) & 3 == VecFunc.MOV and (Opcode.VMAX & 1, Opcode.VMAXS & 1) == (0, 1)
#: bits of a VecFunc
FUNC_BITS = 3


class RowSrc(enum.IntEnum):
    """Where the C stage finds one of a group's rows."""
    RD0 = 0  # on SRAM read port 0 (granted the cycle the group left I)
    RD1 = 1  # on read port 1
    HOLD = 2  # in the issue stage's hold register (granted in an earlier cycle)
    ABUF = 3  # in the group itself (operand A's row came from the A-row buffer)


QEntry = data.StructLayout({"payload": PAYLOAD_BITS, "ctrl": 1})

VecOp = data.StructLayout({
    "func": FUNC_BITS,  # VecFunc
    "scal": 1,  # operand B is the scalar register
    "m": 2,  # the instruction's mode field
    "d16": 1,  # destination elements are 16 bits
    "o16": 1,  # source elements are 16 bits
    "dfout": 1,  # destination is a fabric output (else memory)
    "dcolor": COLOR_BITS, "dctrl": 1,
    "akind": 2, "bkind": 2,  # Operand
    "acolor": COLOR_BITS, "bcolor": COLOR_BITS,
    "addr": data.ArrayLayout(ADDR, 3),  # next element's byte address of A, B, D
    "stride": data.ArrayLayout(signed(16), 3),  # elements, of A, B, D
    "n": 16,  # element count (the destination's length)
    "scalar": 32,
    "done": TASK_BITS,  # task activated when an asynchronous op completes
    "pc": PC_BITS, "task": TASK_BITS,  # the issuing instruction (error reports)
})

ErrorReport = data.StructLayout({"valid": 1, "code": 4, "async_": 1, "task": TASK_BITS, "pc": PC_BITS})

TaskStart = data.StructLayout({"task": TASK_BITS, "entry": PC_BITS, "r14": StartInfo, "r15": PAYLOAD_BITS})
BindReq = data.StructLayout({"we": 1, "color": COLOR_BITS, "task": TASK_BITS, "valid": 1})
FlagReq = data.StructLayout({"activate": 1, "block": 1, "unblock": 1, "task": TASK_BITS})


def group_layout(nctx: int, lanes: int, row_bits: int) -> data.StructLayout:
    """An element group from I to write-back: what the later stages need of its context's op."""
    return data.StructLayout({
        "ctx": range(nctx), "k": range(lanes + 1), "func": FUNC_BITS, "scal": 1, "m": 2, "d16": 1, "o16": 1,
        "dfout": 1, "dcolor": COLOR_BITS, "dctrl": 1, "drow": row_bits, "dh": 2, "ah": 2, "bh": 2,
        "amem": 1, "bmem": 1, "fmac": 1, "sa": 2, "sb": 2, "sd": 2, "arow": ROW_BITS, "fa": 32, "fb": 32, "scalar": 32,
    })


def pending_write_layout(nctx: int, row_bits: int) -> data.StructLayout:
    """A group in C, F or D0..D3 that will write SRAM row ``row`` (valid) for context ``ctx``."""
    return data.StructLayout({"valid": 1, "ctx": range(nctx), "row": row_bits})


def QueueSignature(colors: int) -> wiring.Signature:
    """The RAMP input queues as their consumers see them (from the queues' side)."""
    return wiring.Signature({
        "head": Out(data.ArrayLayout(QEntry, colors)),
        "next": Out(data.ArrayLayout(QEntry, colors)),  # the entry behind the head
        "count": Out(data.ArrayLayout(unsigned(2), colors)),  # 0, 1 or 2 wavelets
    })


def ScalarMemSignature(row_bits: int) -> wiring.Signature:
    """The scalar core's SRAM ports: one read (loads, dld) and one write (stores)."""
    return wiring.Signature({"rd": Out(ReadPortSignature(row_bits)), "wr": Out(WritePortSignature(row_bits))})


def port_use_layout(row_bits: int) -> data.StructLayout:
    """What the SRAM ports do this cycle apart from the vector engine's own reads."""
    return data.StructLayout({
        "rd0": 1,  # the scalar core reads on rd0
        "rd1": 1,  # the scalar core or the debug port reads on rd1
        "rd1_row": row_bits,
        "wr": 1,  # the write port's request (from any client, the vector write-back included)
        "wr_row": row_bits,
    })


def VectorMemSignature(row_bits: int) -> wiring.Signature:
    """The vector engine's SRAM ports, with what the arbiter tells it about the ports' other use
    this cycle (the A-row prefetch only takes a port, and a bank, that nobody needs)."""
    return wiring.Signature({
        "rd0": Out(ReadPortSignature(row_bits)),
        "rd1": Out(ReadPortSignature(row_bits)),
        "wr": Out(WritePortSignature(row_bits)),
        "rd0_demand": Out(1),  # the engine's own rd0 reads this cycle (prefetches excluded)
        "taken": In(port_use_layout(row_bits)),
    })


def select(m, items, index, shape, name):
    """Materialise Array(items)[index] into one Signal (each proxy use would build a new mux)."""
    s = Signal(shape, name=name)
    m.d.comb += s.eq(Array(items)[index])
    return s
