"""Device-code math library: exp, reciprocal and reciprocal square root of a vector in SRAM, as PE
assembly lines (``emit``) or as assembler macros a program includes (``library``).

Each routine is the instruction sequence golden/mathlib.py defines (``steps``), emitted as
synchronous vector ops over memory DSRs; its results are golden/mathlib.py's ``run`` bit for bit
(docs/floating-point.md "Math library" gives the algorithms, constants, special values and
accuracy; docs/kernels.md "Math library" the calling convention and cost).

Calling convention
------------------
``y[i] = f(x[i])`` for ``i < n``, ``x`` and ``y`` vectors of f32 (or f16) at byte addresses, ``y``
may be ``x`` (in place). The routine needs ``scratch_bytes(name, n, fmt)`` bytes of scratch SRAM
(4-byte aligned, not overlapping ``x`` or ``y``), three scratch GPRs and at least three scratch
DSRs. It clobbers exactly those (the GPRs, the DSRs and the scratch SRAM), leaves every other
register, DSR and byte alone, and is straight-line code (no labels, no branches), so it can be
emitted several times in one program. With fewer DSRs than the routine's buffer views it re-points
them (``li`` + ``dmem`` per switch); with ``len(VIEWS)`` or more DSRs each view is set up once.

Interface
---------
ROUTINES, FORMATS                  from golden/mathlib.py
emit(name, n, x, y, scratch, fmt="f32", dsrs=("d10", ..., "d15"), regs=("r11", "r12", "r13")) -> [str]
    the routine's assembly lines. ``n``: elements (1..65535) or an assembler expression;
    ``x``, ``y``, ``scratch``: byte addresses (ints, checked for alignment and overlap) or
    assembler expressions (symbols); ``regs`` = (count, stride 1, temporary)
library(dsrs=("d10", ..., "d15"), regs=("r11", "r12", "r13"), done=None) -> {include name: text}
    the routines as macros ``NAME_FMT n, x, y, scratch`` (``exp_f32``, ``rsqrt_f16``, ...), each
    the lines ``emit`` gives for the same arguments, and ``NAME_FMT_preset n, x, y, scratch``, the
    same without the first (``li`` of the count: the caller has set the count register to at
    most n, for a routine called as a subroutine); include ``"mathlib"`` for all or
    ``"mathlib.exp_f32"`` for one routine; ``assemble(text, libraries=library())`` (docs/isa.md
    "Macros and libraries"). The macros check nothing; ``emit`` checks its integer arguments.
    ``done=T``: every vector op issued asynchronously, completing into task T (memory-only ops
    take effect in issue order, docs/isa.md "Ordering"; the caller waits before reading y)
scratch_bytes(name, n, fmt="f32") -> int
views(name, fmt="f32") -> [(buffer, type)]       the DSR views the routine's ops use
vector_ops(name, fmt="f32") -> int               vector instructions per call
KernelError for a bad argument (unknown routine or format, n out of range, a register or DSR that
is not one, too few or repeated, r0 among the GPRs, a misaligned or overlapping buffer)
"""

from __future__ import annotations

import re

from golden.mathlib import FORMATS, ROUTINES, buffer_type, buffers, steps

from .common import KernelError

__all__ = ["ROUTINES", "FORMATS", "emit", "library", "scratch_bytes", "views", "vector_ops"]

_DSRS = ("d10", "d11", "d12", "d13", "d14", "d15")
_REGS = ("r11", "r12", "r13")


def _check_routine(name, fmt):
    if name not in ROUTINES:
        raise KernelError(f"unknown math routine {name!r}: expected one of {', '.join(ROUTINES)}")
    if fmt not in FORMATS:
        raise KernelError(f"math routine format {fmt!r}: expected one of {', '.join(FORMATS)}")


def scratch_bytes(name: str, n: int, fmt: str = "f32") -> int:
    """Scratch SRAM the routine needs for ``n`` elements: one f32 word per element per buffer."""
    _check_routine(name, fmt)
    return 4 * n * len(buffers(name, fmt))


def views(name: str, fmt: str = "f32") -> list:
    """The (buffer, element type) views its ops read or write, in first-use order."""
    _check_routine(name, fmt)
    out = []
    for mn, d, a, b in steps(name, fmt):
        for role, buf in (("d", d), ("a", a), ("b", b)):
            if isinstance(buf, str) and (buf, buffer_type(mn, role)) not in out:
                out.append((buf, buffer_type(mn, role)))
    return out


def vector_ops(name: str, fmt: str = "f32") -> int:
    _check_routine(name, fmt)
    return len(steps(name, fmt))


def _names(kind, items, low):
    items = tuple(items)
    pat = re.compile(rf"{kind}(\d+)$")
    for it in items:
        mt = pat.match(str(it))
        if not mt or not low <= int(mt.group(1)) <= 15:
            raise KernelError(f"{it!r} is not a usable {'DSR' if kind == 'd' else 'GPR'} ({kind}{low}..{kind}15)")
    if len(set(items)) != len(items):
        raise KernelError(f"repeated register in {items}")
    return items


def _n_ok(n):
    if isinstance(n, str):
        return n
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 0xFFFF:
        raise KernelError(f"n must be an element count in 1..65535 (or an assembler expression), got {n!r}")
    return n


def emit(name: str, n, x, y, scratch, fmt: str = "f32", dsrs=_DSRS, regs=_REGS) -> list:
    """The assembly lines of routine ``name`` (see the module docstring)."""
    _check_routine(name, fmt)
    n = _n_ok(n)
    dsrs = _names("d", dsrs, 0)
    if len(dsrs) < 3:
        raise KernelError(f"a math routine needs at least 3 scratch DSRs, got {len(dsrs)}")
    if len(tuple(regs)) != 3:
        raise KernelError(f"regs must be 3 GPRs (count, stride, temporary), got {regs!r}")
    r_n, r_one, r_t = _names("r", regs, 1)
    bufs = buffers(name, fmt)
    addr = {"x": x, "y": y}
    for k, b in enumerate(bufs):
        addr[b] = scratch + 4 * k * n if isinstance(scratch, int) and isinstance(n, int) else \
            f"({scratch}) + {4 * k} * ({n})"
    if isinstance(n, int):
        _check_addresses(addr, n, fmt, scratch_bytes(name, n, fmt))
    out = [f"li {r_n}, {n}", f"li {r_one}, 1"]
    held = {}  # DSR -> view
    lru = list(dsrs)  # least recently used first

    def view(buf, t, busy):
        for dk, v in held.items():
            if v == (buf, t):
                lru.remove(dk)
                lru.append(dk)
                return dk
        dk = next(d for d in lru if d not in busy)
        lru.remove(dk)
        lru.append(dk)
        held[dk] = (buf, t)
        a = addr[buf]
        out.extend([f"li {r_t}, {hex(a) if isinstance(a, int) else a}", f"dmem.{t} {dk}, {r_t}, {r_n}, {r_one}"])
        return dk

    for mn, d, a, b in steps(name, fmt):
        busy = set()
        ops = {}
        for role, buf in (("d", d), ("a", a), ("b", b)):
            if isinstance(buf, str):
                ops[role] = view(buf, buffer_type(mn, role), busy)
                busy.add(ops[role])
        scal = None
        if isinstance(b, int):
            scal = "r0" if b == 0 else r_t
            if b:
                out.append(f"li {r_t}, {b:#x}")
        args = [ops["d"]] + ([ops["a"]] if "a" in ops else []) + ([ops["b"]] if "b" in ops else [])
        args += [scal] if scal else []
        out.append(f"{mn} {', '.join(args)}")
    return out


def library(dsrs=_DSRS, regs=_REGS, done=None) -> dict:
    """The routines as assembler macros (see the module docstring): {"mathlib": every macro,
    "mathlib.NAME_FMT": one}."""
    out = {}
    for name in ROUTINES:
        for fmt in FORMATS:
            body = emit(name, "\\n", "\\x", "\\y", "\\scratch", fmt, dsrs, regs)
            if done is not None:  # every vector op (not li, not the dmem set-ups) asynchronous
                body = [ln if ln.split()[0] == "li" or ln.startswith("dmem") else f"{ln}, done={done}"
                        for ln in body]
            m = f"{name}_{fmt}"
            out[f"mathlib.{m}"] = (f"; y = {name}(x), {fmt}, n elements (sdk/kernels/mathlib.py)\n"
                                   f".macro {m} n, x, y, scratch\n" + "".join(f"    {ln}\n" for ln in body)
                                   + f".endm\n; the same for the count already in {regs[0]} (n: the scratch's size)\n"
                                   f".macro {m}_preset n, x, y, scratch\n"
                                   + "".join(f"    {ln}\n" for ln in body[1:]) + ".endm\n")
    out["mathlib"] = "".join(out.values())
    return out


def _check_addresses(addr, n, fmt, scratch_len):
    esize = 2 if fmt == "f16" else 4
    spans = {}
    for buf, a in addr.items():
        if not isinstance(a, int):
            continue
        size = esize if buf in ("x", "y") else 4
        if a < 0 or a % size:
            raise KernelError(f"buffer {buf} at {a:#x}: must be a non-negative multiple of {size}")
        spans[buf] = (a, a + size * n)
    if "x" in spans and "y" in spans and spans["x"] != spans["y"] and _overlap(spans["x"], spans["y"]):
        raise KernelError("y overlaps x without being x: use the same address for in-place, else disjoint buffers")
    scr = [v for k, v in spans.items() if k not in ("x", "y")]
    if scr:
        lo = min(s for s, _ in scr)
        for k in ("x", "y"):
            if k in spans and _overlap(spans[k], (lo, lo + scratch_len)):
                raise KernelError(f"the scratch area [{lo:#x}, {lo + scratch_len:#x}) overlaps {k}")


def _overlap(p, q):
    return p[0] < q[1] and q[0] < p[1]
