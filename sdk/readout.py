"""The device side of ``Runtime.d2h``: a read-out routine the SDK owns, and its routes.

A kernel needs no read-back code of its own. To copy a symbol out of a region of PEs, the runtime
writes, through the management path, into every PE of the region:

  * the read-out routine into the last ``ROUTINE_WORDS`` words of instruction memory::

        vmov.f32 d15, d14       ; the symbol's words, one wavelet each, on the read-out color
        li       r15, 1
        send.c   r15, COLOR     ; then one control wavelet: ADVANCE this PE's switch
        end

  * DSR presets: d14 = the symbol (memory, f32 words, stride 1), d15 = fabric output on COLOR;
  * task 31's entry, valid and *pending*: the scheduler starts it when nothing else is runnable
    (task 31 has the lowest priority), so it runs after the kernel, on an idle PE;

and routes COLOR as ``sdk.routes.readout(to_edge="E")`` over the region's rows (writing a color's
switch control resets its position, so every read-out starts at position 0). Each row's east
link then carries whole blocks, easternmost PE first, each followed by its control wavelet; the
runtime checks that framing and reassembles the array.

The framed read-out. A switch-sequenced read-out (``routes.readout(to_edge)`` over a region,
each PE sending its block of ``words`` wavelets and then one control wavelet with ADVANCE) puts on
every edge link of the region's lines the blocks of that line's PEs, nearest PE first, each
followed by its control wavelet. ``frames`` says which blocks each link carries, ``decode`` checks
the framing and returns the blocks; d2h, the GEMM's tiles and the GEMV's y all go through it.
A wavelet of another color on a link is left alone (it is not part of the read-out).

What it reserves, checked before anything is sent (``check_program``): task 31, DSRs d14 and d15
(presets and instruction operands), the last ``ROUTINE_WORDS`` instruction words, and one color
no route of the layout uses (``readout_color``). r14/r15 are written at every task start anyway.

Interface:
    READOUT_TASK, SRC_DSR, DST_DSR, ROUTINE_WORDS
    LIBRARY   {"readout": macros}: ``advance reg, color``, ``send_block dout, src, color, reg`` and
              ``send_tile dout, src`` (a kernel's tile on the color its symbols pdsr/pcolor hold)
    readout_color(layout) -> int               the highest color the layout leaves free
    check_program(pe, placed, profile)         SdkError if the PE's program uses what d2h needs
    pe_writes(profile, color, addr, words) -> [(addr, data)]   one PE's load-bus writes
  the framed read-out, for any region and edge:
    frames(region, to_edge, color) -> {EdgeLink: (color, [pe, ...])}   the blocks each link carries,
                                               in arrival order (a plan; plans of several regions
                                               and colors merge as dicts)
    expect(plan, words) -> {EdgeLink: (color, count)}   what ``Until.outputs`` waits for
    encode(plan, blocks) -> {EdgeLink: [Wavelet]}       the wavelets a correct mesh sends
    decode(received, plan, words, what="read-out") -> {pe: [word]}   received: {EdgeLink: [Wavelet]}
    ReadoutError       a read-out that is not the blocks expected (a short or long block, a missing
                       block, a block not closed by ADVANCE), naming the link, color and PE; both a
                       DeviceError (the mesh sent it) and a KernelError (an SdkError)
"""

from __future__ import annotations

from functools import lru_cache

from hdl.isa import DsrKind, ElemType, fields, form_of, pack_dsr
from hdl.loadmap import TASK_WORD, LoadRegion, load_addr
from hdl.mesh import EdgeLink
from hdl.profiles import get_profile
from hdl.wavelet import Port, SwitchCmd, Wavelet

from .asm import assemble
from .errors import DeviceError, KernelError, SdkError

__all__ = ["READOUT_TASK", "SRC_DSR", "DST_DSR", "ROUTINE_WORDS", "LIBRARY", "readout_color", "check_program",
           "pe_writes", "frames", "expect", "encode", "decode", "ReadoutError"]


class ReadoutError(DeviceError, KernelError):
    """A framed read-out that is not the blocks expected. The mesh sent it, so it is a DeviceError
    (what d2h raises); it is also a KernelError, the SdkError the kernels' decode raises."""


READOUT_TASK = 31
SRC_DSR, DST_DSR = 14, 15
ROUTINE_WORDS = 4
#: The device side of the framed read-out as assembler macros (``.include "readout"``): a block
#: of f32 words out through a FOUT DSR, then one control wavelet with ADVANCE.
LIBRARY = {"readout": r"""
; the framed read-out (sdk/readout.py)
.macro advance reg, color       ; one control wavelet with ADVANCE on color (a number or a register)
    li    \reg, 1
    send.c \reg, \color
.endm
.macro send_block dout, src, color, reg     ; the block src out through dout (FOUT f32 on color)
    vmov.f32 \dout, \src
    advance \reg, \color
.endm
.macro send_tile dout, src      ; the same on this PE's result color: symbols pdsr (the FOUT DSR)
    dld   \dout, pdsr(r0)       ; and pcolor (the color); clobbers r1, r9
    lw    r9, pcolor(r0)
    send_block \dout, \src, r9, r1
.endm
"""}
_ROUTINE = f"""
    .include "readout"
    send_block d{DST_DSR}, d{SRC_DSR}, COLOR, r15
    end
"""


@lru_cache(maxsize=None)
def routine_words(profile: str, color: int) -> tuple:
    words = assemble(_ROUTINE, profile, defines={"COLOR": color}, libraries=LIBRARY).imem
    assert len(words) == ROUTINE_WORDS
    return tuple(words)


def readout_color(layout) -> int:
    prof = layout.profile
    used = layout.build().used_colors | {int(c) for c in layout.colors.values()}
    free = [c for c in range(prof.colors) if c != prof.mgmt_color and c not in used]
    if not free:
        raise SdkError(f"d2h needs one color for its read-out, and the layout uses every color of profile "
                       f"{prof.name} ({prof.colors}, one of them for loading): free a color or read results "
                       "with the kernel's own output routes")
    return free[-1]


def _dsr_operands(word: int) -> set:
    f = fields(word)
    form = form_of(f["op"], f["m"])
    if form is None:
        return set()
    out = set()
    for kind in form.operands:
        if kind.startswith("dsr_"):
            out.add(f[kind[-1]])
    return out


def check_program(pe, placed, profile):
    """SdkError if the program on ``pe`` uses a resource of the read-out routine."""
    prof = get_profile(profile)
    image, name = placed.image, placed.program.name
    limit = prof.imem_words - ROUTINE_WORDS
    last = max((i for i, w in enumerate(image.imem) if w), default=-1)
    problems = []
    if last >= limit:
        problems.append(f"instruction words up to {last}, and the read-out routine takes "
                        f"{limit}..{prof.imem_words - 1}")
    if READOUT_TASK in image.tasks:
        problems.append(f"task {READOUT_TASK}")
    used = {n for n in image.dsrs if n in (SRC_DSR, DST_DSR)}
    for w in image.imem:
        used |= _dsr_operands(w) & {SRC_DSR, DST_DSR}
    if used:
        problems.append("DSR " + ", ".join(f"d{n}" for n in sorted(used)))
    if problems:
        raise SdkError(f"d2h cannot read PE {pe}: its program {name!r} uses {'; '.join(problems)}, which the "
                       "SDK's read-out routine needs (sdk/readout.py)")


def pe_writes(profile, color: int, addr: int, words: int) -> list:
    """Load-bus writes that make one PE send ``words`` 32-bit words from SRAM byte ``addr``."""
    prof = get_profile(profile)
    entry = prof.imem_words - ROUTINE_WORDS
    writes = [(load_addr(LoadRegion.IMEM, entry + i), w) for i, w in enumerate(routine_words(prof.name, color))]
    src = pack_dsr(DsrKind.MEM, ElemType.F32, words, base=addr, stride=1)
    dst = pack_dsr(DsrKind.FOUT, ElemType.F32, words, color=color)
    for n, v in ((SRC_DSR, src), (DST_DSR, dst)):
        writes += [(load_addr(LoadRegion.DSR, 2 * n), v & 0xFFFFFFFF), (load_addr(LoadRegion.DSR, 2 * n + 1), v >> 32)]
    writes.append((load_addr(LoadRegion.TASK, READOUT_TASK), TASK_WORD.pack(entry=entry, valid=1, pending=1)))
    return writes


def frames(region, to_edge, color: int) -> dict:
    """{EdgeLink: (color, [pe, ...])}: the blocks ``routes.readout(to_edge)`` over ``region`` puts on
    each edge link, nearest PE first (an east link: the easternmost PE of its row first)."""
    try:
        edge = Port.of(to_edge)
    except (KeyError, ValueError):
        edge = None
    if edge not in (Port.N, Port.E, Port.S, Port.W):
        raise SdkError(f"read-out to edge {to_edge!r}: expected N, E, S or W")
    out = {}
    if edge in (Port.E, Port.W):
        for r in region.row_range:
            cols = region.col_range[::-1] if edge == Port.E else region.col_range
            out[EdgeLink(edge, r)] = (int(color), [(r, c) for c in cols])
    else:
        for c in region.col_range:
            rows = region.row_range[::-1] if edge == Port.S else region.row_range
            out[EdgeLink(edge, c)] = (int(color), [(r, c) for r in rows])
    return out


def expect(plan: dict, words: int) -> dict:
    """{EdgeLink: (color, count)}: every block's words and its control wavelet."""
    return {link: (color, len(pes) * (words + 1)) for link, (color, pes) in plan.items()}


def encode(plan: dict, blocks: dict) -> dict:
    """{EdgeLink: [Wavelet]}: what a correct mesh sends for ``blocks`` ({pe: [word]}), the inverse of
    ``decode``."""
    out = {}
    for link, (color, pes) in plan.items():
        ws = []
        for pe in pes:
            ws += [Wavelet(color, int(v), 0) for v in blocks[pe]] + [Wavelet(color, int(SwitchCmd.ADVANCE), 1)]
        out[link] = ws
    return out


def _pes(pes) -> str:
    return ", ".join(str(pe) for pe in pes)


def decode(received: dict, plan: dict, words: int, what: str = "read-out") -> dict:
    """{pe: [word, ...]} from the wavelets each link of ``plan`` carried (``received``: {EdgeLink:
    [Wavelet]}, other colors ignored); ReadoutError, prefixed with ``what``, naming the link, the
    color and the PE whose block is wrong."""
    n = words + 1
    out = {}
    for link, (color, pes) in plan.items():
        got = [w for w in received.get(link, []) if w.color == color]
        where = f"{what}: {link}, color {color}"
        count = (f"{len(got)} wavelets, expected {len(pes) * n} ({len(pes)} block{'s' * (len(pes) != 1)} of "
                 f"{words} words, each closed by an ADVANCE control wavelet)")
        for i, pe in enumerate(pes):
            seg = got[i * n:(i + 1) * n]
            if len(seg) < n:
                parts = [f"the block of PE {pe} is short ({len(seg)} of {n} wavelets)"] if seg else []
                gone = pes[i + 1:] if seg else pes[i:]
                if gone:
                    parts.append(f"nothing from PE {_pes(gone)}")
                raise ReadoutError(f"{where}: {count}: {'; '.join(parts)}")
            ctrl = next((j for j, w in enumerate(seg[:-1]) if w.ctrl), None)
            if ctrl is not None:
                raise ReadoutError(f"{where}: the block of PE {pe} has a control wavelet (payload "
                                   f"{seg[ctrl].payload:#x}) where its word {ctrl} of {words} was expected: "
                                   "a short block")
            if not seg[-1].ctrl:
                raise ReadoutError(f"{where}: the block of PE {pe} is not closed by a control wavelet after its "
                                   f"{words} words (a data wavelet, payload {seg[-1].payload:#x}): a long block")
            if seg[-1].payload != SwitchCmd.ADVANCE:
                raise ReadoutError(f"{where}: the block of PE {pe} is closed by a control wavelet with payload "
                                   f"{seg[-1].payload:#x}, not ADVANCE ({int(SwitchCmd.ADVANCE)})")
            out[pe] = [w.payload for w in seg[:-1]]
        if len(got) > len(pes) * n:
            raise ReadoutError(f"{where}: {count}: {len(got) - len(pes) * n} more after the block of PE {pes[-1]}, "
                               "the last expected")
    return out
