"""Assembler, disassembler and encoding tests (sdk/asm.py, hdl/isa.py; docs/isa.md).

* every assembler form: assemble -> word -> disassemble -> assemble gives the same word, and the
  word's fields are those the operands name;
* hand-computed encodings of a few words, pseudo-instructions, data directives (exact decimal
  rounding to f16/f32), the image's JSON round trip;
* every documented assembler error raises AsmError carrying the right line number.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from golden import fp
from hdl.isa import (
    FORM_BY_MNEMONIC,
    FORMAT,
    FORMS,
    RESERVED_OPCODES,
    VECTOR_MNEMONICS,
    VECTOR_OPS,
    Dsr,
    DsrKind,
    ElemType,
    ErrorCode,
    Fmt,
    Insn,
    InsnI,
    InsnR,
    Opcode,
    StartInfo,
    Status,
    encode_i,
    encode_r,
    fields,
    pack_dsr,
    pack_status,
    unpack_dsr,
    unpack_status,
)
from sdk.asm import AsmError, Image, assemble, disassemble
from sdk.layout import Layout, LayoutError

# Every task has an entry so task operands assemble; the instruction under test sits at PC 40.
PRELUDE = "".join(f".task {t}, here\n" for t in range(32)) + "here:\n" + "nop\n" * 40
PC = 40


def _random_operand(kind: str, rng: random.Random) -> str:
    reg = f"r{rng.randrange(16)}"
    choices = {
        "simm": lambda: str(rng.randrange(-0x8000, 0x8000)),
        "uimm": lambda: str(rng.randrange(0x10000)),
        "shamt": lambda: str(rng.randrange(32)),
        "pcrel": lambda: f".{rng.randrange(-0x8000, 0x8000):+d}",
        "mem": lambda: f"{rng.randrange(-0x8000, 0x8000)}(r{rng.randrange(1, 16)})",
        "idx_color": lambda: rng.choice([str(rng.randrange(8)), reg, f"r{rng.randrange(1, 16)}-3"]),
        "idx_task": lambda: rng.choice([str(rng.randrange(32)), reg, f"r{rng.randrange(1, 16)}+31"]),
        "color5": lambda: str(rng.randrange(8)),
        "task_bind": lambda: str(rng.randrange(32)),
        "ctrl": lambda: rng.choice(["ctrl", ""]),
        "done": lambda: rng.choice([f"done={rng.randrange(32)}", ""]),
    }
    if kind.startswith("gpr_"):
        return reg
    if kind.startswith("dsr_"):
        return f"d{rng.randrange(16)}"
    return choices[kind]()


def _assemble_one(line: str) -> int:
    image = assemble(PRELUDE + line + "\n")
    assert len(image.imem) == PC + 1, line
    return image.imem[PC]


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.mnemonic)
def test_every_form_round_trips(form):
    rng = random.Random(form.mnemonic)
    for _ in range(12):
        ops = [o for o in (_random_operand(k, rng) for k in form.operands) if o]
        line = f"{form.mnemonic} " + ", ".join(ops)
        word = _assemble_one(line)
        f = fields(word)
        assert f["op"] == form.opcode
        if form.m is not None:
            assert f["m"] == form.m
        text = disassemble(word)
        assert _assemble_one(text) == word, (line, text)


def test_forms_cover_every_opcode_and_reserved_words_disassemble_raw():
    covered = {f.opcode for f in FORMS}
    assert covered == set(Opcode) - {Opcode.ILLEGAL}
    assert len(covered) == 60
    for op in sorted(RESERVED_OPCODES):
        word = op | 0x12345600
        text = disassemble(word)
        assert text.startswith(".word")
        assert _assemble_one(text) == word


def test_reserved_vcvt_modes_disassemble_raw():
    """vcvt's m = 2, 3 have no mnemonic: the disassembler prints the raw word, which re-assembles."""
    for m in (2, 3):
        word = encode_r(Opcode.VCVT, 1, 2, m)
        assert disassemble(word) == f".word {word:#010x}"
        assert _assemble_one(disassemble(word)) == word
    named = [disassemble(encode_r(Opcode.VCVT, 1, 2, m)) for m in (0, 1)]
    assert named == ["vcvt.f32.f16 d1, d2", "vcvt.f16.f32 d1, d2"]


def test_i32_bit_op_forms_and_reserved_mode():
    """vsh (0x1B) and vlogs (0x1C): m = the function, c = the scalar register; m = 3 has no mnemonic."""
    assert _assemble_one("vsll.i32 d1, d2, r5") == 0x1B | 1 << 6 | 2 << 10 | 0 << 14 | 5 << 16
    assert _assemble_one("vsrl.i32 d1, d2, r5") == 0x1B | 1 << 6 | 2 << 10 | 1 << 14 | 5 << 16
    assert (_assemble_one("vsra.i32 d15, d0, r13, done=31")
            == 0x1B | 15 << 6 | 0 << 10 | 2 << 14 | 13 << 16 | 1 << 24 | 31 << 25)
    assert _assemble_one("vands.i32 d3, d4, r1") == 0x1C | 3 << 6 | 4 << 10 | 0 << 14 | 1 << 16
    assert _assemble_one("vors.i32 d3, d4, r1") == 0x1C | 3 << 6 | 4 << 10 | 1 << 14 | 1 << 16
    assert _assemble_one("vxors.i32 d3, d4, r0, done=2") == 0x1C | 3 << 6 | 4 << 10 | 2 << 14 | 1 << 24 | 2 << 25
    for op in (Opcode.VSH, Opcode.VLOGS):
        word = encode_r(op, 1, 2, 3, 5)
        assert disassemble(word) == f".word {word:#010x}"
    names = [disassemble(encode_r(op, 1, 2, m, 5)) for op in (Opcode.VSH, Opcode.VLOGS) for m in range(3)]
    assert names == ["vsll.i32 d1, d2, r5", "vsrl.i32 d1, d2, r5", "vsra.i32 d1, d2, r5", "vands.i32 d1, d2, r5",
                     "vors.i32 d1, d2, r5", "vxors.i32 d1, d2, r5"]


def test_hand_encodings():
    assert _assemble_one("add r1, r2, r3") == 0x10 | 1 << 6 | 2 << 10 | 3 << 16
    assert _assemble_one("addi r1, r0, -1") == 0x20 | 1 << 6 | 0xFFFF << 16
    assert _assemble_one("beq r1, r2, .-1") == 0x0A | 1 << 6 | 2 << 10 | 0xFFFF << 16
    assert _assemble_one("sw r3, -4(r2)") == 0x2D | 3 << 6 | 2 << 10 | 0xFFFC << 16
    assert _assemble_one("fmacs.f32.f16 d0, d1, r15, done=5") == 0x31 | 1 << 10 | 15 << 16 | 1 << 24 | 5 << 25
    assert _assemble_one("fmac.i32.i16 d2, d3, d4") == 0x30 | 2 << 6 | 3 << 10 | 3 << 14 | 4 << 16
    assert _assemble_one("dmem.i16 d5, r1, r2, r3") == 0x38 | 5 << 6 | 1 << 10 | 2 << 14 | 2 << 16 | 3 << 20
    assert _assemble_one("dfout.f32 d1, 6, r2, ctrl") == 0x3A | 1 << 6 | 2 << 10 | 1 << 14 | (6 | 32) << 16
    assert _assemble_one("send.c r7, r3+2") == 0x03 | 7 << 6 | 3 << 10 | 1 << 14 | 2 << 16
    assert _assemble_one("bind 5, 17") == 0x07 | (5 | 17 << 8) << 16
    assert _assemble_one("unbind 5") == 0x07 | 1 << 14 | 5 << 16
    assert _assemble_one("activate 9") == 0x04 | 9 << 16
    assert _assemble_one("vmax.f16 d1, d2, d3") == 0x3E | 1 << 6 | 2 << 10 | 0 << 14 | 3 << 16
    assert (_assemble_one("vmaxs.i32 d1, d2, r7, done=9")
            == 0x3F | 1 << 6 | 2 << 10 | 3 << 14 | 7 << 16 | 1 << 24 | 9 << 25)
    assert _assemble_one("vcvt.f32.f16 d4, d5") == 0x3D | 4 << 6 | 5 << 10 | 0 << 14
    assert _assemble_one("vcvt.f16.f32 d4, d5, done=2") == 0x3D | 4 << 6 | 5 << 10 | 1 << 14 | 1 << 24 | 2 << 25
    assert _assemble_one("end") == 0x02
    assert _assemble_one("nop") == 0x01
    assert disassemble(0) == ".word 0x00000000"  # opcode 0 is ILLEGAL


def test_layouts_and_packing():
    assert InsnI.size == InsnR.size == Insn.size == 32
    assert Dsr.size == 64 and Status.size == 32 and StartInfo.size == 32
    w = encode_r(Opcode.FMAC, 1, 2, 3, 4, 5, 1, 31)
    assert fields(w) == {"op": 0x30, "a": 1, "b": 2, "m": 3, "imm": w >> 16, "c": 4, "d": 5, "x": 1, "t": 31}
    assert fields(encode_i(Opcode.ADDI, 3, 4, 0, -2))["imm"] == 0xFFFE
    d = pack_dsr(DsrKind.MEM, ElemType.F32, 100, base=0x1234, stride=-3)
    assert d == 1 | 1 << 2 | 100 << 16 | 0x1234 << 32 | 0xFFFD << 48
    assert unpack_dsr(d) == {"kind": DsrKind.MEM, "type": ElemType.F32, "length": 100, "base": 0x1234, "stride": -3}
    f = pack_dsr(DsrKind.FOUT, ElemType.I16, 7, color=21, ctrl=1)
    assert f == 3 | 2 << 2 | 7 << 16 | 21 << 32 | 1 << 37
    assert unpack_dsr(f)["color"] == 21 and unpack_dsr(f)["ctrl"] == 1
    s = pack_status(5, 1, 1, 17, 0x123)
    assert s == 5 | 1 << 4 | 1 << 5 | 17 << 6 | 0x123 << 16
    assert unpack_status(s)["task"] == 17
    r_ops = {op for op in Opcode if 0x10 <= op <= 0x1C or 0x30 <= op <= 0x38 or 0x3D <= op <= 0x3F}
    assert {op for op in Opcode if FORMAT[op] == Fmt.R} == r_ops


def test_pseudo_instructions():
    img = assemble("li r1, 5\nli r2, -32768\nli r3, 0x12345678\nli r4, 0xFFFFFFFF\nmv r5, r1\nj 0\n"
                   ".equ K, 3\nli r6, K\n")
    dis = [disassemble(w) for w in img.imem]
    assert dis == ["addi r1, r0, 5", "addi r2, r0, -32768", "lui r3, 0x1234", "ori r3, r3, 0x5678",
                   "lui r4, 0xffff", "ori r4, r4, 0xffff", "addi r5, r1, 0", "jal r0, .-7",
                   "lui r6, 0", "ori r6, r6, 3"]  # a symbol always takes lui + ori (size fixed in pass 1)


def test_labels_values_and_expressions():
    img = assemble("""
        .equ N, 4
        .data 0x40
        a:  .word 1, 2
        b:  .half 3
            .align 8
        c:  .space N * 2
        d:  .word a + 4, (N << 2) | 1, -1
        .text
        start: nop
        loop:  bne r1, r0, loop
               beq r0, r0, start
    """)
    s = img.symbols
    assert (s["a"], s["b"], s["c"], s["d"], s["start"], s["loop"]) == (0x40, 0x48, 0x50, 0x58, 0, 1)
    mem = img.sram_bytes()
    assert mem[0x58:0x64] == (0x44).to_bytes(4, "little") + (17).to_bytes(4, "little") + b"\xff" * 4
    assert mem[0x48:0x4A] == b"\x03\x00"
    assert disassemble(img.imem[1]) == "bne r1, r0, .+0"
    assert disassemble(img.imem[2]) == "beq r0, r0, .-2"


@pytest.mark.parametrize("text, bits", [
    ("1.0", 0x3C00), ("-2", 0xC000), ("0.1", 0x2E66), ("65504", 0x7BFF), ("65520", 0x7C00),
    ("-0", 0x8000), ("0", 0), ("inf", 0x7C00), ("-inf", 0xFC00), ("nan", 0x7E00),
    ("1.00048828125", 0x3C00),  # 1 + 2^-11: a tie, to even
    ("1.00146484375", 0x3C02),  # 1 + 3 * 2^-11: a tie, to even (up)
    ("1.000488281250000000000001", 0x3C01),  # just above the tie: double rounding via float64 would give 0x3C00
    ("5.96046447753906e-8", 0x0001),  # the least subnormal
    ("2.98023223876953125e-8", 0x0000),  # 2^-25: a tie between 0 and the least subnormal, to even (0)
])
def test_f16_literals_round_exactly(text, bits):
    img = assemble(f".data 0\n.f16 {text}\n")
    assert int.from_bytes(img.sram_bytes()[:2], "little") == bits


def test_f32_literals():
    threshold = 340282356779733661637539395458142568448  # max_f32 + ulp/2, exactly
    img = assemble(f".data 0\n.f32 0.1, -1.5, {threshold - 1}, {threshold}, 1e-45\n")
    mem = img.sram_bytes()
    got = [int.from_bytes(mem[i:i + 4], "little") for i in range(0, 20, 4)]
    # max_f32 + ulp/2 - 1 stays finite, max_f32 + ulp/2 (exactly) overflows to inf; 1e-45 -> least subnormal
    assert got == [fp.f32_bits(0.1), 0xBFC00000, 0x7F7FFFFF, 0x7F800000, 0x00000001]


def test_image_tables_and_json_round_trip():
    img = assemble("""
        .task 3, t3, 5
        .task 0, t0
        .bind 6, 0
        .start 0
        .blocked 3
        .dsr d0, mem.f32, buf, 4, 1
        .dsr d1, fin.f16, 2, 10
        .dsr d2, fout.i32, 7, 3, ctrl
        .data 0x20
        buf: .f32 1, 2, 3, 4
        .text
        t0: end
        t3: end
    """)
    assert img.tasks == {3: 1, 0: 0} and img.bindings == {5: 3, 6: 0}
    assert img.start == [0] and img.blocked == [3]
    assert img.dsrs == {0: pack_dsr(DsrKind.MEM, ElemType.F32, 4, base=0x20, stride=1),
                        1: pack_dsr(DsrKind.FIN, ElemType.F16, 10, color=2),
                        2: pack_dsr(DsrKind.FOUT, ElemType.I32, 3, color=7, ctrl=1)}
    back = Image.from_json(img.to_json())
    assert back == img
    assert img.sram == [(0x20, b"".join(fp.f32_bits(v).to_bytes(4, "little") for v in (1, 2, 3, 4)))]


def test_a_program_mixing_directives_data_and_code():
    src = """
    .task 0, main
    .start 0
    .dsr d0, mem.f32, y, 2, 1
    .data 0x10
y:  .f32 0, 0
    .text
main:
    li    r1, y
    and   r2, r1, r1
    fmacs.f32.f16 d0, d0, r2, done=0
    send.c r1, 3
    lw    r3, 4(r1)
    end
"""
    img = assemble(src)
    assert img.symbols["y"] == 0x10 and img.tasks == {0: 0} and img.start == [0]
    assert [disassemble(w) for w in img.imem][2:] == [
        "and r2, r1, r1", "fmacs.f32.f16 d0, d0, r2, done=0", "send.c r1, 3", "lw r3, 4(r1)", "end"]


ERRORS = [
    # (source, line of the error, a word of the message)
    ("nop\nfrob r1, r2\n", 2, "unknown instruction"),
    ("nop\n.frob 3\n", 2, "unknown directive"),
    ("add r1, r2, r16\n", 1, "register r16 out of range"),
    ("add r1, r2, d3\n", 1, "expected a register"),
    ("nop\nvmov.f32 d16, d1\n", 2, "DSR d16 out of range"),
    ("nop\nadd r1, r2\n", 2, "takes 3 operands"),
    ("vmov.f32 d1, d2, ctrl\n", 1, "unexpected operand"),
    (".task 32, x\nx: end\n", 1, "task 32 out of range"),
    ("nop\nactivate 40\n", 2, "task 40 out of range"),
    ("nop\nactivate 3\n", 2, "task 3 has no entry point"),
    (".task 0, x\nx: vmov.f32 d0, d1, done=4\n", 2, "task 4 has no entry point"),
    (".task 0, x\n.task 0, x\nx: end\n", 2, "task 0 defined twice"),
    ("nop\nsend r1, 8\n", 2, "color 8 out of range"),
    (".task 0, x\nx: bind 9, 0\n", 2, "color 9 out of range"),
    (".task 0, x, 8\nx: end\n", 1, "color 8 out of range"),
    (".task 0, x, 1\n.bind 1, 0\nx: end\n", 2, "color 1 bound twice"),
    ("dfin.f16 d0, 12, r1\n", 1, "color 12 out of range"),
    (".data 0x2000\n.word 1\n", 1, "outside the SRAM"),
    (".data 0x1ffc\n.word 1\n.word 2\n", 3, "outside the SRAM"),
    ("nop\nlw r1, 0x2000(r0)\n", 2, "address 0x2000 outside the SRAM"),
    ("nop\nlw r1, 6\n", 2, "misaligned"),
    ("nop\n.dsr d0, mem.f32, 0x1ff0, 5, 1\n", 2, "memory descriptor leaves the SRAM"),
    (".dsr d0, mem.f32, 8, 4, -1\n", 1, "memory descriptor leaves the SRAM"),
    (".dsr d0, mem.f16, 0x2000, 0, 1\n", 1, "outside the SRAM"),
    (".dsr d0, mem.f32, 2, 1, 1\n", 1, "misaligned"),
    (".dsr d0, mem.f32, 0, 70000, 1\n", 1, "length 70000 out of range"),
    (".dsr d0, mem.f32, 0, 1, 40000\n", 1, "stride 40000 out of range"),
    (".dsr d0, foo.f32, 0, 1, 1\n", 1, "bad DSR kind"),
    ("nop\naddi r1, r0, 40000\n", 2, "immediate 40000 out of range"),
    ("andi r1, r1, -1\n", 1, "immediate -1 out of range"),
    ("slli r1, r1, 32\n", 1, "shift amount 32 out of range"),
    ("beq r1, r2, .+40000\n", 1, "branch offset 40000 out of range"),
    ("lw r1, 40000(r2)\n", 1, "offset 40000 out of range"),
    ("send r1, r2+40000\n", 1, "offset 40000 out of range"),
    (".data 0\n.half 70000\n", 2, "half value 70000 out of range"),
    ("nop\nj nowhere\n", 2, "undefined symbol 'nowhere'"),
    ("a: nop\nnop\na: nop\n", 3, "duplicate label"),
    (".equ r3, 1\n", 1, "register name"),
    (".data 2\n.word 5\n", 2, "misaligned .word"),
    (".data 0\n.word 1\n.data 2\n.half 3\n", 4, "overlaps"),
    ("nop\n.data 0\n.f16 1.5x\n", 3, "bad floating-point value"),
    ("addi r1, r0, (3\n", 1, "bad expression"),
    (".data 0\nnop\n", 2, "in a .data section"),
    ("nop\n.f16 1.0\n", 2, "in .text"),
    ("nop\nnop\nnop\nnop\nnop\n", 5, "beyond the instruction memory"),
    ("nop\nvcvt.f16.f16 d1, d2\n", 2, "unknown instruction 'vcvt.f16.f16' (vcvt forms: vcvt.f32.f16, vcvt.f16.f32)"),
    ("vcvt d1, d2\n", 1, "(vcvt forms: vcvt.f32.f16, vcvt.f16.f32)"),
    ("vmax.bf16 d1, d2, d3\n", 1, "(vmax forms: vmax.f16, vmax.f32, vmax.i16, vmax.i32)"),
    ("vmax.f32 d1, d2, r3\n", 1, "expected a DSR, got 'r3'"),
    ("vmaxs.f32 d1, d2, d3\n", 1, "expected a register, got 'd3'"),
    ("vmax.f32 d1, d2\n", 1, "vmax.f32 takes 3..4 operands, got 2"),
    ("vcvt.f32.f16 d1, d2, d3\n", 1, "unexpected operand 'd3' (expected done)"),
    ("vcvt.f32.f16 d1, d16\n", 1, "DSR d16 out of range"),
    ("vsll.f32 d1, d2, r3\n", 1, "(vsll forms: vsll.i32)"),
    ("vands d1, d2, r3\n", 1, "(vands forms: vands.i32)"),
    ("vsra.i32 d1, d2, d3\n", 1, "expected a register, got 'd3'"),
    ("vxors.i32 d1, r2, r3\n", 1, "expected a DSR, got 'r2'"),
    ("vors.i32 d1, d2\n", 1, "vors.i32 takes 3..4 operands, got 2"),
    ("vsrl.i32 d1, d2, r16\n", 1, "register r16 out of range"),
    (".task 0, x\nx: vcvt.f16.f32 d1, d2, done=5\n", 2, "task 5 has no entry point"),
]


@pytest.mark.parametrize("src, line, words", ERRORS, ids=[e[2] for e in ERRORS])
def test_assembler_errors_carry_the_line(src, line, words):
    with pytest.raises(AsmError) as e:
        assemble(src, imem_words=4)
    assert e.value.line == line, str(e.value)
    assert words in str(e.value)


def test_every_assembler_form_is_a_documented_mnemonic():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "isa.md").read_text()
    for mnemonic in FORM_BY_MNEMONIC:
        assert re.search(rf"\b{mnemonic.split('.')[0]}\b", doc), mnemonic


def test_vector_mnemonics_name_exactly_the_vector_opcodes():
    """hdl/isa.py VECTOR_MNEMONICS (what sdk/kernels/decode.py makes asynchronous) is VECTOR_OPS by
    name; tb/pe_directed.py's element-wise subset is among them."""
    from tb.pe_directed import ELEMENTWISE_MNEMONICS

    ops = {f.opcode for f in FORMS if f.mnemonic.split(".")[0] in VECTOR_MNEMONICS}
    assert ops == VECTOR_OPS and set(ELEMENTWISE_MNEMONICS) <= VECTOR_MNEMONICS


def _doc() -> str:
    return (Path(__file__).resolve().parents[1] / "docs" / "isa.md").read_text()


def test_docs_opcode_map_matches_isa():
    """Every (opcode, mnemonic, format) cell of docs/isa.md's opcode map agrees with hdl/isa.py."""
    section = _doc().split("### Opcode map")[1].split("60 instructions")[0]
    cells = re.findall(r"\| (0x[0-9A-F]{2}) \| ([^|]*?) \| ?([NIR]?) ?(?=\|)", section)
    assert len(cells) == 64
    for code, name, fmt in cells:
        op = int(code, 16)
        if "reserved" in name or "illegal" in name:
            assert op in RESERVED_OPCODES or op == Opcode.ILLEGAL
            continue
        assert Opcode(op).name.lower() == name.split("/")[0], code
        assert FORMAT[Opcode(op)].value == fmt, code


def test_docs_error_table_matches_isa():
    rows = re.findall(r"^\| (\d) \| `([A-Z_]+)` \|", _doc(), re.M)
    assert [(int(n), name) for n, name in rows] == [(e.value, e.name) for e in ErrorCode]


def test_profiles_set_the_limits():
    src = ".task 0, t, 23\n.data 0xbffc\n.word 1\n.text\nt: lw r1, 0x7ffc(r0)\nsend r1, 23\nend\n"
    img = assemble(src, profile="wse")
    assert img.params["colors"] == 24 and img.params["imem_words"] == 4096 and img.bindings == {23: 0}
    for small_src, line, words in ((src, 2, "0xbffc outside the SRAM"), (".task 0, t, 23\nt: end\n", 1, "color 23")):
        with pytest.raises(AsmError) as e:
            assemble(small_src, profile="small")
        assert e.value.line == line and words in str(e.value)


def test_bind_instruction_and_directive():
    img = assemble(".task 1, t\n.bind 2, 1\nt:  bind 3, 1\n    end\n")
    assert img.bindings == {2: 1} and disassemble(img.imem[0]) == "bind 3, 1"


# ---- macros and includes -----------------------------------------------------------------------

_COUNT_DOWN = """
.macro count_down reg, n      ; reg = n, then down to 0
    li    \\reg, \\n
loop:
    addi  \\reg, \\reg, -1
    bne   \\reg, r0, loop
.endm
"""


def _words(src, **kw):
    return [disassemble(w) for w in assemble(src, **kw).imem]


def test_macro_expands_with_its_arguments():
    src = _COUNT_DOWN + ".task 0, t\nt:\n    count_down r3, 5\n    end\n"
    plain = ".task 0, t\nt:\n    li r3, 5\nl: addi r3, r3, -1\n    bne r3, r0, l\n    end\n"
    assert assemble(src).imem == assemble(plain).imem
    img = assemble(src)
    assert set(img.source_lines.values()) == {10, 11}  # the call's line, then end's


def test_macro_labels_are_unique_per_expansion_and_labels_before_a_call_stay():
    src = _COUNT_DOWN + ".task 0, t\nt:\n    count_down r1, 2\nagain: count_down r2, 3\n    j again\n    end\n"
    img = assemble(src)
    loops = sorted(v for k, v in img.symbols.items() if k.startswith("loop"))
    assert loops == [1, 4] and img.symbols["again"] == 3
    assert _words(src)[2] == "bne r1, r0, .-1" and _words(src)[5] == "bne r2, r0, .-1"


def test_nested_macro_and_parameter_pasting():
    src = _COUNT_DOWN + """
.macro both a, b, t
    count_down \\a, 1
    count_down \\b, 2
    vmov.\\t d0, d1
.endm
.task 0, t
t:  both r4, r5, f16
    end
"""
    words = _words(src)
    assert words[0] == "addi r4, r0, 1" and words[3] == "addi r5, r0, 2" and words[6] == "vmov.f16 d0, d1"


def test_include_pastes_a_library_once():
    lib = {"lib.inc": _COUNT_DOWN, "lib.other": '.include "lib.inc"\n.macro one r\n    addi \\r, r0, 1\n.endm\n'}
    src = '.include "lib.inc"\n.include "lib.other"\n.task 0, t\nt: count_down r1, 1\none r2\nend\n'
    assert _words(src, libraries=lib)[-2:] == ["addi r2, r0, 1", "end"]


@pytest.mark.parametrize("src, line, words", [
    (_COUNT_DOWN + "count_down r1\n", 8, "macro 'count_down' takes 2 arguments (reg, n), got 1"),
    (_COUNT_DOWN + "count_down r1, 2, 3\n", 8, "takes 2 arguments"),
    (_COUNT_DOWN + "count_down r99, 2\n", 8, "in macro 'count_down' line 1, written at line 3: register r99"),
    ('nop\n.include "nope"\n', 2, "unknown include 'nope' (libraries: lib)"),
    (".include lib\n", 1, "quoted library name"),
    ('.include "lib"\nbad 70000\n', 2, "in macro 'bad' line 1, written at include 'lib' line 3: immediate 70000"),
    ('.include "lib"\nbad\n', 2, "macro 'bad' takes 1 argument (v), got 0"),
    (".macro m a\n    li r1, \\b\n.endm\nm 1\n", 4, "macro 'm' has no parameter 'b'"),
    (".macro m\nnop\n", 1, "macro 'm' has no .endm"),
    (".endm\n", 1, ".endm without .macro"),
    (".macro m\n.macro n\n.endm\n", 2, ".macro inside the definition of macro 'm'"),
    (".macro m\nnop\n.endm\n.macro m\nend\n.endm\n", 6, "macro 'm' defined twice"),
    (".macro addi a\n.endm\n", 1, "has the name of an instruction"),
    (".macro m a, a\n.endm\n", 1, "a parameter named twice"),
    (".macro m\n    m\n.endm\nm\n", 4, "nested more than"),
])
def test_macro_and_include_errors_name_the_macro_and_line(src, line, words):
    with pytest.raises(AsmError) as e:
        assemble(src, libraries={"lib": "; a library\n.macro bad v\n    addi r1, r0, \\v\n.endm\n"})
    assert e.value.line == line and words in str(e.value)


def test_an_error_in_a_nested_macro_names_the_chain_of_calls():
    src = _COUNT_DOWN + ".macro pair a, b\n    count_down \\a, 1\n    count_down \\b, 2\n.endm\nnop\npair r1, r16\n"
    with pytest.raises(AsmError) as e:
        assemble(src)
    assert e.value.line == 13 and ("in macro 'count_down' line 1, written at line 3, called from macro 'pair' "
                                   "line 2, written at line 10: register r16 out of range") in str(e.value)


def test_a_layout_program_includes_its_libraries_and_its_errors_name_the_program():
    lay = Layout(1, 1)
    prog = lay.program('.include "lib"\n.task 0, t\nt:  count_down r1, 2\n    end\n', name="p",
                       libraries={"lib": _COUNT_DOWN})
    lay.place(prog)
    assert disassemble(lay.build().pe[(0, 0)].image.imem[0]) == "addi r1, r0, 2"
    lay2 = Layout(1, 1)
    lay2.place(lay2.program('.include "nope"\n', name="q", libraries={"lib": _COUNT_DOWN}))
    with pytest.raises(LayoutError, match="program 'q': line 1: unknown include 'nope' \\(libraries: lib\\)"):
        lay2.build()


def test_the_same_macro_defined_twice_identically_is_one_macro():
    assert _words(_COUNT_DOWN + _COUNT_DOWN + "count_down r1, 1\n")[0] == "addi r1, r0, 1"
