"""Golden instruction-level model of one Tessera PE core (docs/isa.md), independent of hdl/.

Role
----
Executes PE programs instruction by instruction and predicts what the RTL must produce: SRAM
contents, registers, DSRs, the wavelets sent through RAMP (in order), the task start order, and
the sticky status after an error. It decodes the binary instruction words with its own tables,
written from docs/isa.md (it does not import hdl/isa.py or sdk/asm.py, so an encoding mistake in
one does not hide in the other). Arithmetic is golden/fp.py, bit for bit. It is not cycle-
accurate: SRAM banks, ports, lanes and fabric backpressure only affect timing and are ignored.

Timing decisions the document fixes for the model:
  * Asynchronous vector ops run eagerly: at issue the micro-thread performs every element whose
    fabric input is there, and resumes (oldest micro-thread first, before every instruction)
    when wavelets arrive; completion activates the done task at once.
  * A wavelet goes to the oldest in-flight op reading its color, else to the bound task.
  * Sends never stall; input queues are unbounded.

Interface
---------
``PEModel(sram_kib=8, sram_banks=4, simd_f16=4, colors=8, imem_words=1024, uthreads=2, trace=False)``
    .load(image)            image: a dict (or an object with ``to_dict()``) with keys
                            imem [words], sram [[addr, bytes | hex str], ...], tasks {T: entry PC},
                            bindings {C: T}, start [T], blocked [T], dsrs {N: packed 64-bit}
    .deliver(color, payload, ctrl=0)   queue a wavelet arriving on RAMP
    .load_write(addr, data)  one write of the PE's load bus (docs/pe.md "Load bus"): instruction
                            and SRAM words, task table, bindings, DSR halves, and the control word
                            (RUN enables the scheduler, CLEAR resets all but the memories, ZERO
                            zeroes the memories); ``.enabled`` is RUN (True after ``load``)
    .run(max_instructions=1_000_000) -> "idle" | "waiting" | "halted" | "limit"
        idle: no task running or runnable and no busy micro-thread; waiting: work remains that
        needs fabric input; limit: the instruction budget of this call ran out.
    .sram (bytearray)  .regs [16]  .dsrs [16 packed ints]  .dsr(n) -> Dsr
    .emitted [(color, payload, ctrl)]  .status (Status)  .instructions_retired
    .task_activations [task IDs in start order]  .start_log [(task, r14, r15)]
    .input_queue(color) -> list of (payload, ctrl)   .trace_log [(task, pc, word)] when trace=True
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from . import fp

__all__ = ["PEModel", "Status", "Dsr", "ERROR_NAMES"]

NUM_TASKS = 32
MASK32 = 0xFFFFFFFF

# ---- opcodes (docs/isa.md "Opcode map") --------------------------------------------------------
NOP, END, SEND, ACTIVATE, BLOCK, UNBLOCK, BIND = range(0x01, 0x08)
JAL, JALR, BEQ, BNE, BLT, BGE, BLTU, BGEU = range(0x08, 0x10)
ADD, SUB, AND, OR, XOR, SLL, SRL, SRA, SLT, SLTU, MUL = range(0x10, 0x1B)
VSH, VLOGS = 0x1B, 0x1C  # the i32 bit ops: vsll/vsrl/vsra and vands/vors/vxors, by the scalar R[c]
ADDI, LUI, ANDI, ORI, XORI, SLLI, SRLI, SRAI, SLTI, SLTIU = range(0x20, 0x2A)
LW, LH, LHU, SW, SH, DLD = range(0x2A, 0x30)
FMAC, FMACS, VADD, VADDS, VMUL, VMULS, VMOV, VFILL = range(0x30, 0x38)
DMEM, DFIN, DFOUT, DBASE, DLEN = range(0x38, 0x3D)
VCVT, VMAX, VMAXS = range(0x3D, 0x40)
VECTOR = frozenset(range(FMAC, VFILL + 1)) | {VCVT, VMAX, VMAXS, VSH, VLOGS}
SCALAR_FORMS = frozenset({FMACS, VADDS, VMULS, VFILL, VMAXS, VSH, VLOGS})  # operand B is the scalar R[c]

# ---- error codes (docs/isa.md "Errors and status") ----------------------------------------------
E_NONE, E_ILLEGAL, E_PC_RANGE, E_SRAM_RANGE, E_MISALIGNED, E_DSR_KIND, E_DSR_TYPE, E_ARG_RANGE, E_TASK = range(9)
ERROR_NAMES = ["NONE", "ILLEGAL", "PC_RANGE", "SRAM_RANGE", "MISALIGNED", "DSR_KIND", "DSR_TYPE", "ARG_RANGE", "TASK"]

# ---- DSR kinds and element types ----------------------------------------------------------------
K_NONE, K_MEM, K_FIN, K_FOUT = range(4)
T_F16, T_F32, T_I16, T_I32 = range(4)
SIZE = {T_F16: 2, T_F32: 4, T_I16: 2, T_I32: 4}
# fmac mode m -> (accumulator type, operand type, arithmetic)
FMAC_MODES = {0: (T_F32, T_F16, fp.fmac_f32_f16), 1: (T_F32, T_F32, fp.fmac_f32),
              2: (T_F16, T_F16, fp.fmac_f16), 3: (T_I32, T_I16, fp.mac_i32_i16)}
# vcvt mode m -> (destination type, source type, conversion); m = 2, 3 are reserved (ILLEGAL)
CVT_MODES = {0: (T_F32, T_F16, fp.f16_to_f32), 1: (T_F16, T_F32, fp.f32_to_f16)}
# vsh / vlogs mode m -> the function of an i32 element and the scalar; m = 3 is reserved (ILLEGAL)
SHIFT_MODES = {0: lambda a, s: a << (s & 31), 1: lambda a, s: a >> (s & 31),
               2: lambda a, s: _signed32(a) >> (s & 31)}
LOGIC_MODES = {0: lambda a, s: a & s, 1: lambda a, s: a | s, 2: lambda a, s: a ^ s}
BIT_MODES = {VSH: SHIFT_MODES, VLOGS: LOGIC_MODES}


def _sext16(x):
    x &= 0xFFFF
    return x - 0x10000 if x & 0x8000 else x


def _signed32(x):
    x &= MASK32
    return x - (1 << 32) if x >> 31 else x


def _add(t, a, b):
    if t == T_F16:
        return fp.add_f16(a, b)
    if t == T_F32:
        return fp.add_f32(a, b)
    return (a + b) & (0xFFFF if t == T_I16 else MASK32)


def _mul(t, a, b):
    if t == T_F16:
        return fp.mul_f16(a, b)
    if t == T_F32:
        return fp.mul_f32(a, b)
    return (a * b) & (0xFFFF if t == T_I16 else MASK32)


def _max(t, a, b):
    """vmax: f16/f32 by golden/fp.py (NaN -> canonical NaN, -0 < +0); i16/i32 signed."""
    if t == T_F16:
        return fp.max_f16(a, b)
    if t == T_F32:
        return fp.max_f32(a, b)
    key = _sext16 if t == T_I16 else _signed32
    return a if key(a) >= key(b) else b


class _Fault(Exception):
    """An instruction's error; unwinds to the step that records it in the status."""

    def __init__(self, code):
        super().__init__(ERROR_NAMES[code])
        self.code = code


@dataclass
class Status:
    code: int = E_NONE
    pc: int = 0
    task: int = 0
    halted: bool = False
    async_: bool = False

    @property
    def name(self) -> str:
        return ERROR_NAMES[self.code]

    def word(self) -> int:
        """The 32-bit status word: code[3:0], halted[4], async[5], task[10:6], pc[31:16]."""
        return self.code | int(self.halted) << 4 | int(self.async_) << 5 | self.task << 6 | (self.pc & 0xFFFF) << 16


@dataclass
class Dsr:
    kind: int = K_NONE
    type: int = T_F16
    length: int = 0
    base: int = 0
    stride: int = 0
    color: int = 0
    ctrl: int = 0

    @classmethod
    def unpack(cls, w: int) -> Dsr:
        d = cls(kind=w & 3, type=w >> 2 & 3, length=w >> 16 & 0xFFFF)
        if d.kind == K_MEM:
            d.base, d.stride = w >> 32 & 0xFFFF, _sext16(w >> 48)
        elif d.kind in (K_FIN, K_FOUT):
            d.color, d.ctrl = w >> 32 & 0x1F, w >> 37 & 1
        return d

    def pack(self) -> int:
        w = self.kind | self.type << 2 | self.length << 16
        if self.kind == K_MEM:
            w |= self.base << 32 | (self.stride & 0xFFFF) << 48
        elif self.kind in (K_FIN, K_FOUT):
            w |= self.color << 32 | self.ctrl << 37
        return w


@dataclass
class _VecOp:
    """One vector op in flight: its latched operands and its progress."""
    func: int  # opcode
    m: int
    dst: Dsr
    a: Dsr | None
    b: Dsr | None
    scalar: int
    pc: int
    task: int
    seq: int
    done_task: int | None = None  # async ops only
    i: int = 0

    @property
    def n(self) -> int:
        return self.dst.length

    @property
    def finished(self) -> bool:
        return self.i >= self.n

    def fin_colors(self) -> list[int]:
        return [d.color for d in (self.a, self.b) if d is not None and d.kind == K_FIN]


@dataclass
class _Running:
    task: int
    pc: int
    op: _VecOp | None = None  # a synchronous vector op in progress


class PEModel:
    """One PE core; see the module docstring. Parameters are docs/isa.md's "Parameters"."""

    def __init__(self, sram_kib=8, sram_banks=4, simd_f16=4, colors=8, imem_words=1024, uthreads=2,
                 trace=False):
        if not 1 <= colors <= 32 or uthreads < 1 or not 1 <= sram_kib <= 64 or not 1 <= imem_words <= 65536:
            raise ValueError("PEModel parameters out of range")
        # sram_banks and simd_f16 only shape timing, which this model does not represent.
        self.sram_kib, self.sram_banks, self.simd_f16 = sram_kib, sram_banks, simd_f16
        self.colors, self.imem_words, self.uthreads, self.trace = colors, imem_words, uthreads, trace
        self.reset()

    # ---- state -------------------------------------------------------------------------------
    def reset(self):
        self.sram = bytearray(self.sram_kib * 1024)
        self.imem = [0] * self.imem_words
        self.regs = [0] * 16
        self.dsrs = [0] * 16
        self.entry: list[int | None] = [None] * NUM_TASKS
        self.pending = [False] * NUM_TASKS
        self.blocked = [False] * NUM_TASKS
        self.binding: list[int | None] = [None] * 32  # color -> task
        self.inq = [deque() for _ in range(32)]
        self.micro: list[_VecOp | None] = [None] * self.uthreads
        self.cur: _Running | None = None
        self.status = Status()
        self.emitted: list[tuple[int, int, int]] = []
        self.instructions_retired = 0
        self.task_activations: list[int] = []
        self.start_log: list[tuple[int, int, int]] = []
        self.trace_log: list[tuple[int, int, int]] = []
        self._seq = 0
        self.enabled = True  # RUN: the scheduler may start tasks

    def load(self, image):
        """Reset, then load a program image (plain data, see the module docstring)."""
        if hasattr(image, "to_dict"):
            image = image.to_dict()
        self.reset()
        imem = [int(w) & MASK32 for w in image.get("imem", [])]
        if len(imem) > self.imem_words:
            raise ValueError(f"image has {len(imem)} words, imem holds {self.imem_words}")
        self.imem[:len(imem)] = imem
        for addr, blob in image.get("sram", []):
            blob = bytes.fromhex(blob) if isinstance(blob, str) else bytes(blob)
            addr = int(addr)
            if addr < 0 or addr + len(blob) > len(self.sram):
                raise ValueError(f"SRAM segment at {addr:#x} outside the SRAM")
            self.sram[addr:addr + len(blob)] = blob
        for t, pc in image.get("tasks", {}).items():
            t, pc = int(t), int(pc)
            if not 0 <= t < NUM_TASKS or not 0 <= pc < self.imem_words:
                raise ValueError(f"task {t} entry {pc} out of range")
            self.entry[t] = pc
        for c, t in image.get("bindings", {}).items():
            c, t = int(c), int(t)
            if not 0 <= c < self.colors or self.entry[t] is None:
                raise ValueError(f"binding color {c} -> task {t} invalid")
            self.binding[c] = t
        for key, flags in (("start", self.pending), ("blocked", self.blocked)):
            for t in image.get(key, []):
                if self.entry[int(t)] is None:
                    raise ValueError(f"{key} task {t} has no entry")
                flags[int(t)] = True
        for n, w in image.get("dsrs", {}).items():
            self.dsrs[int(n)] = int(w)

    # ---- the load bus (docs/pe.md "Load bus"; the management path writes through it) ----------
    def load_write(self, addr: int, data: int):
        region, index, data = addr >> 16 & 0xF, addr & 0xFFFF, data & MASK32
        if region == 0:  # instruction word
            if index < self.imem_words:
                self.imem[index] = data
        elif region == 1:  # SRAM word at byte address index * 4
            if 4 * index + 4 <= len(self.sram):
                self.sram[4 * index:4 * index + 4] = data.to_bytes(4, "little")
        elif region == 2:  # task table: [15:0] entry, [16] valid, [17] pending, [18] blocked
            t = index & 0x1F
            self.entry[t] = data & 0xFFFF if data >> 16 & 1 else None
            self.pending[t], self.blocked[t] = bool(data >> 17 & 1), bool(data >> 18 & 1)
        elif region == 3:  # binding of color index: [4:0] task, [8] valid
            self.binding[index & 0x1F] = data & 0x1F if data >> 8 & 1 else None
        elif region == 4:  # DSR preset: half 0 = bits 31:0, half 1 = bits 63:32 of DSR index >> 1
            n, shift = index >> 1 & 0xF, 32 * (index & 1)
            self.dsrs[n] = self.dsrs[n] & ~(MASK32 << shift) | data << shift
        elif region == 5:  # control: [0] RUN, [1] CLEAR, [2] ZERO
            self.enabled = bool(data & 1)
            if data & 2:
                self._clear()
            if data & 4:
                self.sram[:] = bytes(len(self.sram))
                self.imem = [0] * self.imem_words

    def _clear(self):
        """CLEAR: registers, DSRs, task table, bindings, status, micro-threads, input queues and
        counters to 0; the memories keep their contents."""
        sram, imem, enabled = self.sram, self.imem, self.enabled
        self.reset()
        self.sram, self.imem, self.enabled = sram, imem, enabled

    def deliver(self, color: int, payload: int, ctrl: int = 0):
        if not 0 <= color < self.colors:
            raise ValueError(f"color {color} is not routable (colors={self.colors})")
        self.inq[color].append((payload & MASK32, ctrl & 1))

    def input_queue(self, color: int) -> list[tuple[int, int]]:
        return list(self.inq[color])

    def dsr(self, n: int) -> Dsr:
        return Dsr.unpack(self.dsrs[n])

    @property
    def idle(self) -> bool:
        return self.cur is None and not any(self.micro) and self._pick() is None

    # ---- the run loop ------------------------------------------------------------------------
    def run(self, max_instructions: int = 1_000_000) -> str:
        budget_end = self.instructions_retired + max_instructions
        while True:
            if self.status.halted:
                return "halted"
            moved = self._advance_micro()
            if self.status.halted:
                return "halted"
            if self.cur is None:
                if self.enabled and self._start_next():  # RUN gates only the starting of tasks
                    continue
                return "waiting" if any(self.micro) else "idle"
            if self.instructions_retired >= budget_end:
                return "limit"
            if not self._step() and not moved:
                return "waiting"

    def _pick(self):
        """(task, color or None) the scheduler would start now, or None."""
        for t in range(NUM_TASKS):
            if self.blocked[t] or self.entry[t] is None:
                continue
            color = self._wavelet_color(t)
            if color is not None or self.pending[t]:
                return t, color
        return None

    def _wavelet_color(self, t):
        claimed = {c for op in self._in_flight() for c in op.fin_colors()}
        for c in range(self.colors):
            if self.binding[c] == t and self.inq[c] and c not in claimed:
                return c
        return None

    def _start_next(self) -> bool:
        pick = self._pick()
        if pick is None:
            return False
        t, color = pick
        if color is not None:
            payload, ctrl = self.inq[color].popleft()
            r14, r15 = color | ctrl << 5 | 1 << 6 | t << 8, payload
        else:
            self.pending[t] = False
            r14, r15 = t << 8, 0
        self.regs[14], self.regs[15] = r14, r15
        self.cur = _Running(t, self.entry[t])
        self.task_activations.append(t)
        self.start_log.append((t, r14, r15))
        return True

    def _in_flight(self):
        ops = [op for op in self.micro if op is not None]
        if self.cur is not None and self.cur.op is not None:
            ops.append(self.cur.op)
        return ops

    def _advance_micro(self) -> bool:
        moved = False
        for k in sorted(range(self.uthreads), key=lambda k: self.micro[k].seq if self.micro[k] else 0):
            op = self.micro[k]
            if op is None:
                continue
            try:
                moved |= self._advance_op(op)
            except _Fault as f:
                self._halt(f.code, op.pc, op.task, async_=True)
                return True
            if op.finished:
                self.micro[k] = None
                self.pending[op.done_task] = True
                moved = True
        return moved

    def _halt(self, code, pc, task, async_=False):
        if not self.status.halted:
            self.status = Status(code, pc & 0xFFFF, task, True, async_)
        self.cur = None
        self.micro = [None] * self.uthreads

    def _retire(self, next_pc):
        self.instructions_retired += 1
        if self.cur is not None:
            self.cur.pc = next_pc & 0xFFFF

    def _step(self) -> bool:
        """Execute (or continue) the running task's instruction; False if it could not move."""
        cur = self.cur
        try:
            if cur.op is not None:  # a synchronous vector op waiting for fabric input
                moved = self._advance_op(cur.op)
                if cur.op.finished:
                    cur.op = None
                    self._retire(cur.pc + 1)
                    return True
                return moved
            if cur.pc >= self.imem_words:
                raise _Fault(E_PC_RANGE)
            word = self.imem[cur.pc]
            if self.trace:
                self.trace_log.append((cur.task, cur.pc, word))
            return self._execute(word)
        except _Fault as f:
            self._halt(f.code, cur.pc, cur.task)
            return True

    # ---- decode and execute ------------------------------------------------------------------
    def _execute(self, word: int) -> bool:
        op = word & 0x3F
        a, b, m = word >> 6 & 0xF, word >> 10 & 0xF, word >> 14 & 3
        imm = word >> 16 & 0xFFFF
        c, d, x, t = word >> 16 & 0xF, word >> 20 & 0xF, word >> 24 & 1, word >> 25 & 0x1F
        pc = self.cur.pc
        if op in _ALU_R:
            self._wr(a, _ALU_R[op](self.regs[b], self.regs[c]))
        elif op in _ALU_I:
            self._wr(a, _ALU_I[op](self.regs[b], imm))
        elif op == LUI:
            self._wr(a, imm << 16)
        elif BEQ <= op <= BGEU:
            if _BRANCH[op](self.regs[a], self.regs[b]):
                self._retire(pc + _sext16(imm))
                return True
        elif op in (JAL, JALR):
            target = pc + _sext16(imm) if op == JAL else self.regs[b] + _sext16(imm)
            self._wr(a, pc + 1)
            self._retire(target)
            return True
        elif LW <= op <= SH:
            self._load_store(op, a, self._addr(b, imm))
        elif op == DLD:
            self.dsrs[a] = int.from_bytes(self._mem(self._addr(b, imm), 8), "little")
        elif op in VECTOR:
            return self._vector(op, a, b, c, m, x, t)
        elif DMEM <= op <= DLEN:
            self._dsr_setup(op, a, b, c, d, m, imm)
        elif op == END:
            self.instructions_retired += 1
            self.cur = None
            return True
        elif op == NOP:
            pass
        elif op in (SEND, ACTIVATE, BLOCK, UNBLOCK, BIND):
            self._system(op, a, b, m, imm)
        else:
            raise _Fault(E_ILLEGAL)
        self._retire(pc + 1)
        return True

    def _wr(self, r, value):
        if r:
            self.regs[r] = value & MASK32

    def _addr(self, b, imm):
        return (self.regs[b] + _sext16(imm)) & MASK32

    def _check(self, addr, size):
        if addr + size > len(self.sram):
            raise _Fault(E_SRAM_RANGE)
        if addr % size:
            raise _Fault(E_MISALIGNED)

    def _mem(self, addr, size) -> bytes:
        self._check(addr, size)
        return bytes(self.sram[addr:addr + size])

    def _load_store(self, op, a, addr):
        size = 4 if op in (LW, SW) else 2
        if op in (SW, SH):
            self._check(addr, size)
            self.sram[addr:addr + size] = (self.regs[a] & ((1 << 8 * size) - 1)).to_bytes(size, "little")
            return
        v = int.from_bytes(self._mem(addr, size), "little")
        self._wr(a, _sext16(v) if op == LH else v)

    def _task_arg(self, b, imm) -> int:
        t = (self.regs[b] + _sext16(imm)) & MASK32
        if t >= NUM_TASKS or self.entry[t] is None:
            raise _Fault(E_TASK)
        return t

    def _color_ok(self, color):
        if not 0 <= color < self.colors:
            raise _Fault(E_ARG_RANGE)
        return color

    def _system(self, op, a, b, m, imm):
        if op == SEND:
            color = self._color_ok((self.regs[b] + _sext16(imm)) & MASK32)
            self.emitted.append((color, self.regs[a], m & 1))
        elif op == BIND:
            color = self._color_ok(imm & 0x1F)
            if m & 1:
                self.binding[color] = None
            else:
                task = imm >> 8 & 0x1F
                if self.entry[task] is None:
                    raise _Fault(E_TASK)
                self.binding[color] = task
        else:
            t = self._task_arg(b, imm)
            if op == ACTIVATE:
                self.pending[t] = True
            else:
                self.blocked[t] = op == BLOCK

    def _dsr_setup(self, op, a, b, c, d, m, imm):
        def field16(v):
            if v > 0xFFFF:
                raise _Fault(E_ARG_RANGE)
            return v
        if op == DMEM:
            stride = _signed32(self.regs[d])
            base, length = field16(self.regs[b]), field16(self.regs[c])
            if not -0x8000 <= stride <= 0x7FFF:
                raise _Fault(E_ARG_RANGE)
            self.dsrs[a] = Dsr(K_MEM, m, length, base=base, stride=stride).pack()
        elif op in (DFIN, DFOUT):
            color = self._color_ok(imm & 0x1F)
            length = field16(self.regs[b])
            kind, ctrl = (K_FIN, 0) if op == DFIN else (K_FOUT, imm >> 5 & 1)
            self.dsrs[a] = Dsr(kind, m, length, color=color, ctrl=ctrl).pack()
        else:
            dsr = Dsr.unpack(self.dsrs[a])
            if dsr.kind == K_NONE or (op == DBASE and dsr.kind != K_MEM):
                raise _Fault(E_DSR_KIND)
            value = field16((self.regs[b] + _sext16(imm)) & MASK32)
            if op == DBASE:
                dsr.base = value
            else:
                dsr.length = value
            self.dsrs[a] = dsr.pack()

    # ---- vector ops --------------------------------------------------------------------------
    def _vector(self, op, a, b, c, m, x, t) -> bool:
        """Issue a vector op (docs/isa.md "Vector operations"); False if it must stall."""
        if (op == VCVT and m not in CVT_MODES) or (op in BIT_MODES and m not in BIT_MODES[op]):
            raise _Fault(E_ILLEGAL)  # a reserved mode, before any DSR is looked at
        scalar_form = op in SCALAR_FORMS
        dst = Dsr.unpack(self.dsrs[a])
        src_a = None if op == VFILL else Dsr.unpack(self.dsrs[b])
        src_b = Dsr.unpack(self.dsrs[c]) if op in (FMAC, VADD, VMUL, VMAX) else None
        self._issue_checks(op, m, dst, src_a, src_b)
        done = None
        if x:
            done = t
            if self.entry[t] is None:
                raise _Fault(E_TASK)
        scalar = self.regs[c] if scalar_form else 0
        self._seq += 1
        vop = _VecOp(op, m, dst, src_a, src_b, scalar, self.cur.pc, self.cur.task, self._seq, done)
        if not x:
            self.cur.op = vop
            self._advance_op(vop)
            if vop.finished:
                self.cur.op = None
                self._retire(self.cur.pc + 1)
            return True
        if None not in self.micro:
            self._seq -= 1
            return False  # no free micro-thread: stall at this instruction
        self.micro[self.micro.index(None)] = vop
        self._retire(self.cur.pc + 1)
        return True  # the run loop advances it (eagerly) before the next instruction

    def _issue_checks(self, op, m, dst, src_a, src_b):
        accumulate = op in (FMAC, FMACS)
        dst_kinds = (K_MEM,) if accumulate else (K_MEM, K_FOUT)
        if dst.kind not in dst_kinds or any(s is not None and s.kind not in (K_MEM, K_FIN) for s in (src_a, src_b)):
            raise _Fault(E_DSR_KIND)
        acc_t, opnd_t = (FMAC_MODES[m][:2] if accumulate else CVT_MODES[m][:2] if op == VCVT
                         else (T_I32, T_I32) if op in BIT_MODES else (m, m))
        if dst.type != acc_t or any(s is not None and s.type != opnd_t for s in (src_a, src_b)):
            raise _Fault(E_DSR_TYPE)
        for d in (dst, src_a, src_b):
            if d is not None and d.kind in (K_FIN, K_FOUT) and d.color >= self.colors:
                raise _Fault(E_ARG_RANGE)

    def _advance_op(self, vop: _VecOp) -> bool:
        """Perform vop's elements in order until done or a fabric input is missing."""
        moved = False
        older = [o for o in self._in_flight() if o.seq < vop.seq and not o.finished]
        blocked_colors = {col for o in older for col in o.fin_colors()}
        while not vop.finished:
            addrs = self._element_addresses(vop)
            need = vop.fin_colors()
            if any(col in blocked_colors or len(self.inq[col]) < need.count(col) for col in need):
                return moved
            self._element(vop, addrs)
            vop.i += 1
            moved = True
        return moved

    def _element_addresses(self, vop):
        """Byte address of each memory operand of element i; range first, then alignment."""
        addrs = {}
        for role, d in (("a", vop.a), ("b", vop.b), ("dst", vop.dst)):
            if d is not None and d.kind == K_MEM:
                addrs[role] = d.base + vop.i * d.stride * SIZE[d.type]
        for role, addr in addrs.items():
            size = SIZE[getattr(vop, role).type]
            if addr < 0 or addr + size > len(self.sram):
                raise _Fault(E_SRAM_RANGE)
        for role, addr in addrs.items():
            if addr % SIZE[getattr(vop, role).type]:
                raise _Fault(E_MISALIGNED)
        return addrs

    def _read(self, d: Dsr, addr):
        size = SIZE[d.type]
        if d.kind == K_MEM:
            return int.from_bytes(self.sram[addr:addr + size], "little")
        payload, _ = self.inq[d.color].popleft()
        return payload & (0xFFFF if size == 2 else MASK32)

    def _element(self, vop: _VecOp, addrs):
        av = self._read(vop.a, addrs.get("a")) if vop.a is not None else None
        bv = self._read(vop.b, addrs.get("b")) if vop.b is not None else None
        f, t = vop.func, vop.dst.type
        if f in (FMAC, FMACS):
            _, opnd_t, mac = FMAC_MODES[vop.m]
            second = bv if f == FMAC else vop.scalar & (0xFFFF if SIZE[opnd_t] == 2 else MASK32)
            result = mac(self._read(vop.dst, addrs["dst"]), av, second)
        elif f == VCVT:
            result = CVT_MODES[vop.m][2](av)
        elif f in BIT_MODES:
            result = BIT_MODES[f][vop.m](av, vop.scalar) & MASK32
        else:
            # vadd/vmul/vmax/vmov/vfill: every operand, the scalar included, has the one type m.
            s = vop.scalar & (0xFFFF if SIZE[t] == 2 else MASK32)
            if f in (VMAX, VMAXS):
                result = _max(t, av, bv if f == VMAX else s)
            elif f in (VADD, VADDS):
                result = _add(t, av, bv if f == VADD else s)
            elif f in (VMUL, VMULS):
                result = _mul(t, av, bv if f == VMUL else s)
            else:
                result = av if f == VMOV else s
        if vop.dst.kind == K_MEM:
            size = SIZE[t]
            self.sram[addrs["dst"]:addrs["dst"] + size] = result.to_bytes(size, "little")
        else:
            self.emitted.append((vop.dst.color, result, vop.dst.ctrl))


# ---- ALU tables (docs/isa.md "Scalar ALU"); operands are unsigned 32-bit patterns ----------------

_ALU_R = {
    ADD: lambda x, y: x + y, SUB: lambda x, y: x - y, AND: lambda x, y: x & y, OR: lambda x, y: x | y,
    XOR: lambda x, y: x ^ y, SLL: lambda x, y: x << (y & 31), SRL: lambda x, y: x >> (y & 31),
    SRA: lambda x, y: _signed32(x) >> (y & 31), SLT: lambda x, y: int(_signed32(x) < _signed32(y)),
    SLTU: lambda x, y: int(x < y), MUL: lambda x, y: x * y,
}
_ALU_I = {
    ADDI: lambda x, k: x + _sext16(k), ANDI: lambda x, k: x & k, ORI: lambda x, k: x | k,
    XORI: lambda x, k: x ^ k, SLLI: lambda x, k: x << (k & 31), SRLI: lambda x, k: x >> (k & 31),
    SRAI: lambda x, k: _signed32(x) >> (k & 31), SLTI: lambda x, k: int(_signed32(x) < _sext16(k)),
    SLTIU: lambda x, k: int(x < (_sext16(k) & MASK32)),
}
_BRANCH = {
    BEQ: lambda x, y: x == y, BNE: lambda x, y: x != y, BLT: lambda x, y: _signed32(x) < _signed32(y),
    BGE: lambda x, y: _signed32(x) >= _signed32(y), BLTU: lambda x, y: x < y, BGEU: lambda x, y: x >= y,
}
