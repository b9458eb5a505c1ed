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

What it reserves, checked before anything is sent (``check_program``): task 31, DSRs d14 and d15
(presets and instruction operands), the last ``ROUTINE_WORDS`` instruction words, and one color
no route of the layout uses (``readout_color``). r14/r15 are written at every task start anyway.

Interface:
    READOUT_TASK, SRC_DSR, DST_DSR, ROUTINE_WORDS
    readout_color(layout) -> int               the highest color the layout leaves free
    check_program(pe, placed, profile)         SdkError if the PE's program uses what d2h needs
    pe_writes(profile, color, addr, words) -> [(addr, data)]   one PE's load-bus writes
    decode(outputs, region, words, color, rows, cols) -> {pe: [word]}
"""

from __future__ import annotations

from functools import lru_cache

from hdl.isa import DsrKind, ElemType, fields, form_of, pack_dsr
from hdl.loadmap import TASK_WORD, Region, load_addr
from hdl.mesh import EdgeLink
from hdl.profiles import get_profile
from hdl.wavelet import Port, SwitchCmd

from .asm import assemble
from .records import DeviceError, SdkError

__all__ = ["READOUT_TASK", "SRC_DSR", "DST_DSR", "ROUTINE_WORDS", "readout_color", "check_program", "pe_writes",
           "decode"]

READOUT_TASK = 31
SRC_DSR, DST_DSR = 14, 15
ROUTINE_WORDS = 4
_ROUTINE = f"""
    vmov.f32 d{DST_DSR}, d{SRC_DSR}
    li    r15, 1
    send.c r15, {{color}}
    end
"""


@lru_cache(maxsize=None)
def routine_words(profile: str, color: int) -> tuple:
    words = assemble(_ROUTINE.format(color=color), profile).imem
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
    writes = [(load_addr(Region.IMEM, entry + i), w) for i, w in enumerate(routine_words(prof.name, color))]
    src = pack_dsr(DsrKind.MEM, ElemType.F32, words, base=addr, stride=1)
    dst = pack_dsr(DsrKind.FOUT, ElemType.F32, words, color=color)
    for n, v in ((SRC_DSR, src), (DST_DSR, dst)):
        writes += [(load_addr(Region.DSR, 2 * n), v & 0xFFFFFFFF), (load_addr(Region.DSR, 2 * n + 1), v >> 32)]
    writes.append((load_addr(Region.TASK, READOUT_TASK), TASK_WORD.pack(entry=entry, valid=1, pending=1)))
    return writes


def decode(outputs: dict, region, words: int, color: int, rows: int, cols: int) -> dict:
    """{pe: [word, ...]} from the wavelets each row's east link carried (DeviceError on bad framing)."""
    out = {}
    for r in region.row_range:
        link = EdgeLink(Port.E, r)
        got = [w for w in outputs.get(link, []) if w.color == color]
        want = region.cols * (words + 1)
        if len(got) != want:
            raise DeviceError(f"d2h: {len(got)} read-out wavelets on {link}, expected {want}")
        for i, c in enumerate(reversed(region.col_range)):
            seg = got[i * (words + 1):(i + 1) * (words + 1)]
            if any(w.ctrl for w in seg[:-1]) or not seg[-1].ctrl or seg[-1].payload != SwitchCmd.ADVANCE:
                raise DeviceError(f"d2h: the block of PE ({r}, {c}) on {link} is not framed by one ADVANCE "
                                  "control wavelet")
            out[(r, c)] = [w.payload for w in seg[:-1]]
    return out
