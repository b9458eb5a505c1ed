"""Tessera PE assembler, program image and disassembler.

Role
----
Turns PE assembly (docs/isa.md "Assembly syntax") into an ``Image``: instruction words, SRAM
contents, the task table, color bindings, initial activations and DSR presets, as plain data the
golden model (``golden/pe_model.py``) and the loaders (sdk/loader.py, the PE testbench) consume.
Encodings come from ``hdl/isa.py`` only.

Interface
---------
``assemble(text, profile="small", defines=None, libraries=None, **params) -> Image``
                                                         text syntax; ``defines``: symbols known
                                                         before the first line; ``libraries``:
                                                         {name: text} for ``.include "name"``;
                                                         ``params`` override the profile's PE
                                                         parameters (hdl.isa.pe_params)
``Image``                                                dataclass; ``to_dict()``, ``to_json()``,
                                                         ``Image.from_json(s)``, ``sram_bytes()``
``disassemble(word) -> str``                             one instruction; branch targets as ``.+k``
``AsmError(message, line)``                              every assembly error, with its line number
                                                         (and the macro or library it was written in)

Composition happens in the text: ``.macro name a, b`` ... ``.endm`` defines a macro, ``name x, y``
expands it with ``\\a``, ``\\b`` replaced by the arguments (labels it defines are unique per
expansion), ``.include "name"`` pastes a library once (docs/isa.md "Macros and libraries").
Assembly text is the one way to write device code; Python composes it only by choosing the
libraries and the ``defines``.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction

from golden.fp import F16, F32, round_to
from hdl.isa import (
    ELEM_SIZE,
    FORM_BY_MNEMONIC,
    FORMAT,
    NUM_DSRS,
    NUM_GPRS,
    NUM_TASKS,
    DsrKind,
    ElemType,
    Fmt,
    Opcode,
    encode_i,
    encode_r,
    fields,
    form_of,
    pack_dsr,
    pe_params,
    sext16,
)

from .errors import AsmError

__all__ = ["AsmError", "Image", "assemble", "disassemble"]


# ---- the image ---------------------------------------------------------------------------------

@dataclass
class Image:
    imem: list[int] = field(default_factory=list)
    sram: list[tuple[int, bytes]] = field(default_factory=list)  # (byte address, contents) segments
    tasks: dict[int, int] = field(default_factory=dict)  # task ID -> entry PC
    bindings: dict[int, int] = field(default_factory=dict)  # color -> task ID
    start: list[int] = field(default_factory=list)  # pending at load
    blocked: list[int] = field(default_factory=list)  # blocked at load
    dsrs: dict[int, int] = field(default_factory=dict)  # DSR index -> packed 64-bit value
    symbols: dict[str, int] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    source_lines: dict[int, int] = field(default_factory=dict)  # PC -> source line (for traces)

    def to_dict(self) -> dict:
        """Plain, JSON-safe data (the golden model's ``load`` takes this)."""
        d = asdict(self)
        d["sram"] = [[addr, bytes(data).hex()] for addr, data in self.sram]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> Image:
        def intkeys(m):
            return {int(k): int(v) for k, v in m.items()}
        return cls(imem=list(d["imem"]), sram=[(int(a), bytes.fromhex(h)) for a, h in d["sram"]],
                   tasks=intkeys(d["tasks"]), bindings=intkeys(d["bindings"]), start=list(d["start"]),
                   blocked=list(d["blocked"]), dsrs=intkeys(d["dsrs"]), symbols=dict(d["symbols"]),
                   params=dict(d["params"]), source_lines=intkeys(d.get("source_lines", {})))

    @classmethod
    def from_json(cls, s: str) -> Image:
        return cls.from_dict(json.loads(s))

    def sram_bytes(self, size: int | None = None) -> bytes:
        size = size if size is not None else self.params["sram_kib"] * 1024
        out = bytearray(size)
        for addr, data in self.sram:
            out[addr:addr + len(data)] = data
        return bytes(out)


# ---- lexical helpers ---------------------------------------------------------------------------

_LABEL = re.compile(r"^\s*([A-Za-z_]\w*)\s*:(.*)$")
_REG = re.compile(r"^r(\d+)$")
_DSR = re.compile(r"^d(\d+)$")
_IDX = re.compile(r"^(r\d+)\s*(?:([+-])\s*(.+))?$")
_MEM = re.compile(r"^(.*)\((\s*r\d+\s*)\)$")
_HERE = re.compile(r"(?<![\w.])\.(?![\w.])")
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr,
           ast.BitXor)
_PSEUDO = {"li", "mv", "j"}


def _strip_comment(text: str) -> str:
    for mark in (";", "#"):
        k = text.find(mark)
        if k >= 0:
            text = text[:k]
    return text.strip()


def _split_operands(text: str) -> list[str]:
    text = text.strip()
    return [t.strip() for t in text.split(",")] if text else []


def _float_bits(text: str, fmt) -> int:
    """Decimal (or inf/nan) -> IEEE bits, rounded once, RNE, from the exact decimal value."""
    t = text.strip().lower()
    sign = 1 if t.startswith("-") else 0
    mag = t.lstrip("+-")
    if mag in ("inf", "infinity"):
        return sign << fmt.sign_shift | fmt.inf
    if mag == "nan":
        return fmt.qnan
    value = Fraction(mag)  # raises ValueError on junk
    if value == 0:
        return sign << fmt.sign_shift
    # An integer significand of >= 80 bits plus a sticky bit for the discarded rest: round_to then
    # rounds once, exactly as if it had the infinite expansion.
    p, q = value.numerator, value.denominator
    k = 80 + q.bit_length() - p.bit_length()
    num, den = (p << k, q) if k >= 0 else (p, q << -k)
    sig, rest = divmod(num, den)
    return round_to(fmt, sign, sig << 1 | (rest != 0), -k - 1)


# ---- macros and includes ---------------------------------------------------------------------

_MACRO_ARG = re.compile(r"\\(\(\)|[A-Za-z_]\w*)")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")
_INCLUDE = re.compile(r'^"([^"]+)"$')
_MAX_DEPTH = 32


@dataclass
class _Src:
    """One statement after macro and include expansion."""
    line: int  # the line of the assembled text it comes from (a macro call's, an .include's)
    text: str
    where: str = ""  # the macro or library it was written in, and its line there


@dataclass
class _Macro:
    name: str
    params: list[str]
    body: list[tuple[str, str]]  # (text, where it was written)
    defined: str  # where the .macro line is, for "defined twice"


class _Expander:
    """Expands ``.macro``/``.endm`` definitions, macro calls and ``.include "name"`` of the
    ``libraries`` into plain statements, each tagged with its line and where it was written."""

    def __init__(self, libraries: dict | None):
        self.libraries = dict(libraries or {})
        self.macros: dict[str, _Macro] = {}
        self.included: set[str] = set()
        self.expansions = 0
        self.out: list[_Src] = []
        self.line, self.where = 0, ""

    def err(self, msg):
        raise AsmError(f"in {self.where}: {msg}" if self.where else msg, self.line)

    def run(self, text: str) -> list[_Src]:
        self.block([(n, raw, "") for n, raw in enumerate(text.splitlines(), start=1)], None, 0)
        return self.out

    def block(self, lines, at_line: int | None, depth: int):
        """Expand ``lines`` [(own line, text, where)]; ``at_line``: the line of the call or
        include they stand for (None: the assembled text itself)."""
        defining = None
        for own, raw, where in lines:
            self.line, self.where = (own if at_line is None else at_line), where
            body = _strip_comment(raw)
            head, _, rest = body.partition(" ")
            head = head.strip().lower()
            if defining is not None:
                if head == ".endm":
                    self.finish(defining)
                    defining = None
                elif head == ".macro":
                    self.err(f".macro inside the definition of macro {defining.name!r}")
                else:
                    defining.body.append((body, _here(where, own, at_line)))
                continue
            if head == ".macro":
                defining = self.start_macro(rest, _here(where, own, at_line))
                opened = (self.line, self.where)
            elif head == ".endm":
                self.err(".endm without .macro")
            elif head == ".include":
                self.include(rest.strip(), depth)
            else:
                self.statement(body, depth)
        if defining is not None:
            self.line, self.where = opened
            self.err(f"macro {defining.name!r} has no .endm")

    def start_macro(self, rest: str, where: str) -> _Macro:
        name, _, params = rest.strip().partition(" ")
        params = _split_operands(params)
        if not _IDENT.match(name):
            self.err(f"bad macro name {name!r}")
        if name.lower() in FORM_BY_MNEMONIC or name.lower() in _PSEUDO:
            self.err(f"macro {name!r} has the name of an instruction")
        for p in params:
            if not _IDENT.match(p):
                self.err(f"macro {name!r}: bad parameter name {p!r}")
        if len(set(params)) != len(params):
            self.err(f"macro {name!r}: a parameter named twice")
        return _Macro(name, params, [], where)

    def finish(self, m: _Macro):
        old = self.macros.get(m.name)
        if old is not None and (old.params, [t for t, _ in old.body]) != (m.params, [t for t, _ in m.body]):
            self.err(f"macro {m.name!r} defined twice ({old.defined} and {m.defined})")
        self.macros.setdefault(m.name, m)

    def include(self, spec: str, depth: int):
        mt = _INCLUDE.match(spec)
        if not mt:
            self.err(f'.include takes a quoted library name, e.g. .include "mathlib", got {spec!r}')
        name = mt.group(1)
        if name not in self.libraries:
            known = ", ".join(sorted(self.libraries)) or "none given"
            self.err(f"unknown include {name!r} (libraries: {known})")
        if name in self.included:
            return
        self.included.add(name)
        text = self.libraries[name]
        lines = [(n, raw, f"include {name!r} line {n}") for n, raw in enumerate(text.splitlines(), start=1)]
        self.block(lines, self.line, depth + 1)

    def statement(self, body: str, depth: int):
        while (mt := _LABEL.match(body)):  # labels before a macro call stay where they are
            self.out.append(_Src(self.line, f"{mt.group(1)}:", self.where))
            body = mt.group(2).strip()
        name, _, rest = body.partition(" ")
        if name in self.macros:
            self.call(self.macros[name], _split_operands(rest), depth)
        elif body:
            self.out.append(_Src(self.line, body, self.where))

    def call(self, m: _Macro, args: list[str], depth: int):
        if len(args) != len(m.params):
            want = ", ".join(m.params) or "none"
            self.err(f"macro {m.name!r} takes {len(m.params)} argument{'' if len(m.params) == 1 else 's'} ({want}), "
                     f"got {len(args)}")
        if depth >= _MAX_DEPTH:
            self.err(f"macro {m.name!r}: calls nested more than {_MAX_DEPTH} deep (a macro that calls itself?)")
        self.expansions += 1
        local = {}
        for text, _ in m.body:
            body = text
            while (mt := _LABEL.match(body)):
                local[mt.group(1)] = f"{mt.group(1)}__{m.name}{self.expansions}"
                body = mt.group(2).strip()
        values = dict(zip(m.params, args, strict=True))
        caller = f", called from {self.where}" if self.where else ""
        lines = []
        for k, (text, where) in enumerate(m.body, start=1):
            self.where = f"macro {m.name!r} line {k}" + (f", written at {where}" if where else "") + caller
            lines.append((k, self.substitute(_rename(text, local), values, m.name), self.where))
        self.block(lines, self.line, depth + 1)

    def substitute(self, text: str, values: dict, macro: str) -> str:
        def arg(mt):
            key = mt.group(1)
            if key == "()":
                return ""
            if key not in values:
                self.err(f"macro {macro!r} has no parameter {key!r}")
            return values[key]
        return _MACRO_ARG.sub(arg, text)


def _here(where: str, own: int, at_line: int | None) -> str:
    """Where a macro body line was written, for messages."""
    return where or (f"line {own}" if at_line is None else "")


def _rename(text: str, local: dict) -> str:
    """Labels a macro body defines, unique per expansion (``loop`` -> ``loop__name3``)."""
    for old, new in local.items():
        text = re.sub(rf"(?<![\w.\\]){re.escape(old)}(?!\w)", new, text)
    return text


# ---- the assembler ---------------------------------------------------------------------------

@dataclass
class _Stmt:
    line: int
    mnemonic: str
    operands: list[str]
    loc: int  # PC for code


class _Assembler:
    def __init__(self, params: dict):
        self.p = params
        self.sram_size = params["sram_kib"] * 1024
        self.colors = params["colors"]
        self.imem_words = params["imem_words"]
        self.symbols: dict[str, int] = {}
        self.code: list[_Stmt] = []
        self.pc = 0
        self.section = "text"
        self.daddr = 0
        self.data_items: list[tuple[int, int, str, list[str], int]] = []  # (line, addr, kind, values, size)
        self.directives: list[tuple[int, str, list[str]]] = []  # resolved in pass 2
        self.src: list[_Src] = [_Src(0, "")]  # the expanded statements; [0]: before the first
        self.line = 0  # index into src of the statement being assembled
        self.tasks: dict[int, int] = {}

    # -- errors and expressions --
    def err(self, msg):
        src = self.src[self.line]
        raise AsmError(f"in {src.where}: {msg}" if src.where else msg, src.line)

    def eval(self, text: str, here: int | None = None) -> int:
        src = _HERE.sub("__here__", text.strip())
        try:
            tree = ast.parse(src, mode="eval")
        except SyntaxError:
            self.err(f"bad expression {text!r}")
        return self._eval_node(tree.body, text, here)

    def _eval_node(self, node, text, here):
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id == "__here__":
                if here is None:
                    self.err("'.' is not defined here")
                return here
            if _REG.match(node.id) or _DSR.match(node.id):
                self.err(f"register {node.id} where a value is expected")
            if node.id not in self.symbols:
                self.err(f"undefined symbol {node.id!r}")
            return self.symbols[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
            v = self._eval_node(node.operand, text, here)
            return -v if isinstance(node.op, ast.USub) else ~v if isinstance(node.op, ast.Invert) else v
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
            a = self._eval_node(node.left, text, here)
            b = self._eval_node(node.right, text, here)
            try:
                return _apply(node.op, a, b)
            except (ZeroDivisionError, ValueError):
                self.err(f"bad arithmetic in {text!r}")
        self.err(f"bad expression {text!r}")

    def is_literal(self, text: str) -> bool:
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError:
            return False
        return not any(isinstance(n, ast.Name) for n in ast.walk(tree))

    def li_short(self, text: str) -> bool:
        """li is one addi for a literal in -32768..32767; anything with symbols takes lui + ori."""
        return self.is_literal(text) and -0x8000 <= self.eval(text) <= 0x7FFF

    def reg(self, text: str, pattern=_REG, count=NUM_GPRS, what="register") -> int:
        m = pattern.match(text.strip())
        if not m:
            self.err(f"expected a {what}, got {text!r}")
        n = int(m.group(1))
        if n >= count:
            self.err(f"{what} {text.strip()} out of range (0..{count - 1})")
        return n

    def dsr(self, text: str) -> int:
        return self.reg(text, _DSR, NUM_DSRS, "DSR")

    def ranged(self, value: int, lo: int, hi: int, what: str) -> int:
        if not lo <= value <= hi:
            self.err(f"{what} {value} out of range ({lo}..{hi})")
        return value

    def color(self, text: str) -> int:
        return self.ranged(self.eval(text), 0, self.colors - 1, "color")

    def task_id(self, text: str, need_entry: bool = True) -> int:
        t = self.ranged(self.eval(text), 0, NUM_TASKS - 1, "task")
        if need_entry and t not in self.tasks:
            self.err(f"task {t} has no entry point (.task)")
        return t

    # -- pass 1 --
    def define(self, name: str, value: int):
        if name in self.symbols:
            self.err(f"duplicate label or symbol {name!r}")
        if _REG.match(name) or _DSR.match(name):
            self.err(f"{name!r} is a register name")
        self.symbols[name] = value

    def pass1(self, statements: list[_Src]):
        self.src += statements
        for line in range(1, len(self.src)):
            self.line = line
            body = self.src[line].text
            while (m := _LABEL.match(body)):
                self.define(m.group(1), self.pc if self.section == "text" else self.daddr)
                body = m.group(2).strip()
            if not body:
                continue
            head, _, rest = body.partition(" ")
            head = head.strip().lower()
            ops = _split_operands(rest)
            if head.startswith("."):
                self.directive1(head, ops)
            else:
                self.insn1(head, ops)

    def insn1(self, mnemonic: str, ops: list[str]):
        if self.section != "text":
            self.err(f"instruction {mnemonic!r} in a .data section")
        if mnemonic not in FORM_BY_MNEMONIC and mnemonic not in _PSEUDO:
            # a known instruction with a wrong or missing suffix: name the suffixes it has
            base = mnemonic.split(".")[0]
            known = [f for f in FORM_BY_MNEMONIC if f.split(".")[0] == base]
            self.err(f"unknown instruction {mnemonic!r}" + (f" ({base} forms: {', '.join(known)})" if known else ""))
        size = 1
        if mnemonic == "li":
            if len(ops) != 2:
                self.err("li takes 2 operands (rd, value)")
            size = 1 if self.li_short(ops[1]) else 2
        self.code.append(_Stmt(self.line, mnemonic, ops, self.pc))
        self.pc += size
        if self.pc > self.imem_words:
            self.err(f"code beyond the instruction memory ({self.imem_words} words)")

    def directive1(self, name: str, ops: list[str]):
        sizes = {".f16": 2, ".half": 2, ".f32": 4, ".word": 4}
        if name == ".text":
            self.section = "text"
        elif name == ".data":
            self.section = "data"
            if ops:
                self.daddr = self.eval(ops[0])
                if not 0 <= self.daddr < self.sram_size:
                    self.err(f"data address {self.daddr:#x} outside the SRAM ({self.sram_size} bytes)")
        elif name in sizes:
            if not ops:
                self.err(f"{name} needs at least one value")
            if self.section == "text":
                if name != ".word":
                    self.err(f"{name} in .text (only .word may emit instruction words)")
                for v in ops:
                    self.code.append(_Stmt(self.line, ".word", [v], self.pc))
                    self.pc += 1
                if self.pc > self.imem_words:
                    self.err(f"code beyond the instruction memory ({self.imem_words} words)")
                return
            size = sizes[name]
            if self.daddr % size:
                self.err(f"misaligned {name} data at {self.daddr:#x} (align to {size})")
            self.check_data_addr(self.daddr, size * len(ops))
            self.data_items.append((self.line, self.daddr, name, ops, size))
            self.daddr += size * len(ops)
        elif name in (".space", ".align"):
            self.need(ops, 1, name)
            if self.section != "data":
                self.err(f"{name} outside a .data section")
            n = self.eval(ops[0])
            if n < (0 if name == ".space" else 1):
                self.err(f"{name} {n} out of range")
            pad = n if name == ".space" else -self.daddr % n
            self.check_data_addr(self.daddr, pad)
            self.data_items.append((self.line, self.daddr, ".space", [], pad))
            self.daddr += pad
        elif name == ".equ":
            self.need(ops, 2, name)
            if not re.match(r"^[A-Za-z_]\w*$", ops[0]):
                self.err(f"bad symbol name {ops[0]!r}")
            self.define(ops[0], self.eval(ops[1]))
        elif name in (".task", ".bind", ".start", ".blocked", ".dsr"):
            self.directives.append((self.line, name, ops))
        else:
            self.err(f"unknown directive {name!r}")

    def need(self, ops, n, what, most=None):
        most = n if most is None else most
        if not n <= len(ops) <= most:
            want = f"{n}" if n == most else f"{n}..{most}"
            self.err(f"{what} takes {want} operands, got {len(ops)}")

    def check_data_addr(self, addr: int, size: int):
        if addr < 0 or addr + size > self.sram_size:
            self.err(f"data at {addr:#x} (+{size} bytes) outside the SRAM ({self.sram_size} bytes)")

    # -- pass 2: load-time tables --
    def tables(self, image: Image):
        self.tasks: dict[int, int] = {}
        for line, name, ops in self.directives:
            self.line = line
            if name == ".task":
                self.need(ops, 2, name, 3)
                t = self.task_id(ops[0], need_entry=False)
                if t in self.tasks:
                    self.err(f"task {t} defined twice")
                entry = self.eval(ops[1])
                self.ranged(entry, 0, self.imem_words - 1, "entry PC")
                self.tasks[t] = entry
                if len(ops) == 3:
                    self.bind_at_load(image, self.color(ops[2]), t)
        for line, name, ops in self.directives:
            self.line = line
            if name == ".bind":
                self.need(ops, 2, name)
                self.bind_at_load(image, self.color(ops[0]), self.task_id(ops[1]))
            elif name in (".start", ".blocked"):
                self.need(ops, 1, name)
                t = self.task_id(ops[0])
                lst = image.start if name == ".start" else image.blocked
                if t not in lst:
                    lst.append(t)
            elif name == ".dsr":
                n, value = self.dsr_directive(ops)
                image.dsrs[n] = value
        image.tasks = dict(self.tasks)

    def bind_at_load(self, image, color, task):
        if color in image.bindings:
            self.err(f"color {color} bound twice")
        image.bindings[color] = task

    def dsr_directive(self, ops) -> tuple[int, int]:
        if len(ops) < 2:
            self.err(".dsr takes dN, kind.type, ...")
        n = self.dsr(ops[0])
        kind, _, tname = ops[1].lower().partition(".")
        types = {t.name.lower(): t for t in ElemType}
        if tname not in types or kind not in ("mem", "fin", "fout"):
            self.err(f"bad DSR kind.type {ops[1]!r} (mem|fin|fout . f16|f32|i16|i32)")
        etype = types[tname]
        if kind == "mem":
            self.need(ops, 5, ".dsr mem")
            base, length, stride = (self.eval(x) for x in ops[2:5])
            self.ranged(length, 0, 0xFFFF, "length")
            self.ranged(stride, -0x8000, 0x7FFF, "stride")
            self.check_descriptor(base, length, stride, ELEM_SIZE[etype])
            return n, pack_dsr(DsrKind.MEM, etype, length, base=base, stride=stride)
        self.need(ops, 4, f".dsr {kind}", 5 if kind == "fout" else 4)
        color = self.color(ops[2])
        length = self.ranged(self.eval(ops[3]), 0, 0xFFFF, "length")
        ctrl = 0
        if len(ops) == 5:
            if ops[4].lower() != "ctrl":
                self.err(f"expected 'ctrl', got {ops[4]!r}")
            ctrl = 1
        kind_code = DsrKind.FIN if kind == "fin" else DsrKind.FOUT
        return n, pack_dsr(kind_code, etype, length, color=color, ctrl=ctrl)

    def check_descriptor(self, base, length, stride, size):
        if not 0 <= base < self.sram_size:
            self.err(f"descriptor base {base:#x} outside the SRAM")
        if base % size:
            self.err(f"descriptor base {base:#x} misaligned for {size}-byte elements")
        last = base + (length - 1) * stride * size if length else base
        if not 0 <= last <= self.sram_size - size:
            self.err(f"memory descriptor leaves the SRAM: last element at {last} "
                     f"(base {base:#x}, length {length}, stride {stride})")

    # -- pass 2: data --
    def data(self, image: Image):
        mem = bytearray(self.sram_size)
        written = bytearray(self.sram_size)
        for line, addr, kind, values, size in self.data_items:
            self.line = line
            if kind == ".space":
                blob = bytes(size)
            else:
                blob = b"".join(self.data_value(kind, v).to_bytes(size, "little") for v in values)
            if any(written[addr:addr + len(blob)]):
                self.err(f"data at {addr:#x} overlaps earlier data")
            mem[addr:addr + len(blob)] = blob
            written[addr:addr + len(blob)] = b"\1" * len(blob)
        image.sram = _segments(mem, written)

    def data_value(self, kind: str, text: str) -> int:
        if kind in (".f16", ".f32"):
            try:
                return _float_bits(text, F16 if kind == ".f16" else F32)
            except (ValueError, ZeroDivisionError):
                self.err(f"bad floating-point value {text!r}")
        bits = 16 if kind == ".half" else 32
        v = self.ranged(self.eval(text), -(1 << (bits - 1)), (1 << bits) - 1, f"{kind[1:]} value")
        return v & ((1 << bits) - 1)

    # -- pass 2: code --
    def encode_all(self, image: Image):
        for st in self.code:
            self.line = st.line
            words = self.encode(st)
            for k in range(len(words)):
                image.source_lines[st.loc + k] = self.src[st.line].line
            image.imem.extend(words)

    def encode(self, st: _Stmt) -> list[int]:
        if st.mnemonic == ".word":
            return [self.ranged(self.eval(st.operands[0], st.loc), -(1 << 31), (1 << 32) - 1, "word") & 0xFFFFFFFF]
        if st.mnemonic in _PSEUDO:
            return self.pseudo(st)
        return [self.encode_form(FORM_BY_MNEMONIC[st.mnemonic], st.operands, st.loc)]

    def pseudo(self, st: _Stmt) -> list[int]:
        ops = st.operands
        if st.mnemonic == "mv":
            self.need(ops, 2, "mv")
            return [self.encode_form(FORM_BY_MNEMONIC["addi"], [ops[0], ops[1], "0"], st.loc)]
        if st.mnemonic == "j":
            self.need(ops, 1, "j")
            return [self.encode_form(FORM_BY_MNEMONIC["jal"], ["r0", ops[0]], st.loc)]
        rd = self.reg(ops[0])
        value = self.ranged(self.eval(ops[1], st.loc), -(1 << 31), (1 << 32) - 1, "li value") & 0xFFFFFFFF
        if self.li_short(ops[1]):
            return [encode_i(Opcode.ADDI, rd, 0, 0, sext16(value))]
        return [encode_i(Opcode.LUI, rd, 0, 0, value >> 16), encode_i(Opcode.ORI, rd, rd, 0, value & 0xFFFF)]

    def encode_form(self, form, ops: list[str], pc: int) -> int:
        required = [k for k in form.operands if k not in ("ctrl", "done")]
        optional = [k for k in form.operands if k in ("ctrl", "done")]
        if not len(required) <= len(ops) <= len(form.operands):
            want = f"{len(required)}" if not optional else f"{len(required)}..{len(form.operands)}"
            self.err(f"{form.mnemonic} takes {want} operands, got {len(ops)}")
        f = {"a": 0, "b": 0, "m": form.m or 0, "imm": 0, "c": 0, "d": 0, "x": 0, "t": 0}
        for kind, text in zip(required, ops[:len(required)], strict=True):
            self.operand(kind, text, f, pc, form)
        for text in ops[len(required):]:
            self.flag(text, optional, f)
        if form.opcode in (Opcode.NOP, Opcode.END):
            return int(form.opcode)
        if FORMAT[form.opcode] == Fmt.R:
            return encode_r(form.opcode, f["a"], f["b"], f["m"], f["c"], f["d"], f["x"], f["t"])
        return encode_i(form.opcode, f["a"], f["b"], f["m"], f["imm"] & 0xFFFF)

    def flag(self, text: str, allowed: list[str], f: dict):
        t = text.strip()
        if "ctrl" in allowed and t.lower() == "ctrl":
            f["imm"] |= 1 << 5
        elif "done" in allowed and t.lower().startswith("done="):
            f["x"], f["t"] = 1, self.task_id(t[5:])
        else:
            self.err(f"unexpected operand {t!r}" + (f" (expected {' or '.join(allowed)})" if allowed else ""))

    def operand(self, kind: str, text: str, f: dict, pc: int, form):
        if kind.startswith("gpr_"):
            f[kind[-1]] = self.reg(text)
        elif kind.startswith("dsr_"):
            f[kind[-1]] = self.dsr(text)
        elif kind == "simm":
            f["imm"] = self.ranged(self.eval(text, pc), -0x8000, 0x7FFF, "immediate")
        elif kind == "uimm":
            f["imm"] = self.ranged(self.eval(text, pc), 0, 0xFFFF, "immediate")
        elif kind == "shamt":
            f["imm"] = self.ranged(self.eval(text, pc), 0, 31, "shift amount")
        elif kind == "pcrel":
            f["imm"] = self.ranged(self.eval(text, pc) - pc, -0x8000, 0x7FFF, "branch offset")
        elif kind == "mem":
            self.mem_operand(text, f, pc, form)
        elif kind in ("idx_color", "idx_task"):
            self.index_operand(kind, text, f, pc)
        elif kind == "color5":
            f["imm"] |= self.color(text)
        elif kind == "task_bind":
            f["imm"] |= self.task_id(text) << 8
        else:  # pragma: no cover - table error
            raise AssertionError(kind)

    def mem_operand(self, text: str, f: dict, pc: int, form):
        m = _MEM.match(text.strip())
        off_text, base = (m.group(1), self.reg(m.group(2))) if m else (text, 0)
        off = self.ranged(self.eval(off_text or "0", pc), -0x8000, 0x7FFF, "offset")
        f["b"], f["imm"] = base, off
        if base == 0:  # an absolute address: check it now
            size = {Opcode.LW: 4, Opcode.SW: 4, Opcode.DLD: 8}.get(form.opcode, 2)
            if not 0 <= off <= self.sram_size - size:
                self.err(f"address {off:#x} outside the SRAM ({self.sram_size} bytes)")
            if off % size:
                self.err(f"address {off:#x} misaligned for a {size}-byte access")

    def index_operand(self, kind: str, text: str, f: dict, pc: int):
        m = _IDX.match(text.strip())
        if m:
            f["b"] = self.reg(m.group(1))
            k = self.eval(m.group(3), pc) if m.group(3) else 0
            f["imm"] = self.ranged(-k if m.group(2) == "-" else k, -0x8000, 0x7FFF, "offset")
        elif kind == "idx_color":
            f["imm"] = self.color(text)
        else:
            f["imm"] = self.task_id(text)


def _apply(op, a, b):
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    if isinstance(op, ast.FloorDiv):
        return a // b
    if isinstance(op, ast.Mod):
        return a % b
    if isinstance(op, ast.LShift):
        return a << b
    if isinstance(op, ast.RShift):
        return a >> b
    if isinstance(op, ast.BitAnd):
        return a & b
    if isinstance(op, ast.BitOr):
        return a | b
    return a ^ b


def _segments(mem: bytearray, written: bytearray) -> list[tuple[int, bytes]]:
    segs, start = [], None
    for i, w in enumerate(written):
        if w and start is None:
            start = i
        elif not w and start is not None:
            segs.append((start, bytes(mem[start:i])))
            start = None
    if start is not None:
        segs.append((start, bytes(mem[start:])))
    return segs


def assemble(text: str, profile="small", defines: dict | None = None, libraries: dict | None = None,
             **params) -> Image:
    """Assemble ``text``; ``defines`` are symbols known before the first line (as if ``.equ``);
    ``libraries`` ({name: assembly text}) are what ``.include "name"`` can include; ``params``
    (sram_kib, colors, imem_words, ...) override the profile's."""
    p = {**pe_params(profile), **params}
    asm = _Assembler(p)
    for name, value in (defines or {}).items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise AsmError(f"symbol {name!r}: {value!r} is not an integer")
        asm.define(name, int(value))
    asm.pass1(_Expander(libraries).run(text))
    image = Image(params=dict(p))
    asm.tables(image)
    asm.data(image)
    asm.encode_all(image)
    image.symbols = dict(asm.symbols)
    return image


# ---- the disassembler --------------------------------------------------------------------------

def disassemble(word: int) -> str:
    """One instruction word as assembly text (re-assembles to the same word when canonical)."""
    f = fields(word)
    form = form_of(f["op"], f["m"])
    if form is None or f["op"] == Opcode.ILLEGAL:
        return f".word {word:#010x}"
    parts = []
    for kind in form.operands:
        text = _dis_operand(kind, f)
        if text is not None:
            parts.append(text)
    return form.mnemonic + (" " + ", ".join(parts) if parts else "")


def _dis_operand(kind: str, f: dict) -> str | None:
    imm, simm = f["imm"], sext16(f["imm"])
    if kind.startswith("gpr_"):
        return f"r{f[kind[-1]]}"
    if kind.startswith("dsr_"):
        return f"d{f[kind[-1]]}"
    if kind == "simm":
        return str(simm)
    if kind == "uimm":
        return f"{imm:#x}" if imm > 9 else str(imm)
    if kind == "shamt":
        return str(imm & 31)
    if kind == "pcrel":
        return f".{simm:+d}"
    if kind == "mem":
        return f"{simm}(r{f['b']})"
    if kind in ("idx_color", "idx_task"):
        if f["b"] == 0:
            return str(simm)
        return f"r{f['b']}" + (f"{simm:+d}" if simm else "")
    if kind == "color5":
        return str(imm & 31)
    if kind == "task_bind":
        return str(imm >> 8 & 31)
    if kind == "ctrl":
        return "ctrl" if imm >> 5 & 1 else None
    if kind == "done":
        return f"done={f['t']}" if f["x"] else None
    raise AssertionError(kind)  # pragma: no cover
