"""Collectives over a row, a column or a rectangle of PEs: broadcast, scatter, gather, reduce and
all-reduce (f32 sum), with device code, routes and host helpers, bit-exact against a golden order.

Every collective works along the *snake* of its region: the PEs in row-major order with every
other row reversed (rows r0, r0 + 2, ... west to east; the others east to west), so consecutive
PEs are neighbours. A row region's snake is the row west to east, a column's the column north to
south. ``snake[0]`` is the first PE, ``snake[-1]`` the last.

    broadcast   root's ``buf`` (n f32 words) to every PE's ``buf``: a broadcast tree from the root
                (routes.broadcast(root=...): along the root's row, then up and down every column);
                the root is the snake's first PE unless given
    scatter     the first PE's ``buf`` (P * m words) in P blocks: block i to PE snake[i]'s ``buf``
                (block 0 stays). One color along the snake with two switch positions per PE: the
                root sends each block followed by one ADVANCE control wavelet; a PE takes the wavelets
                of its position (0: deliver) until its ADVANCE has passed, then forwards (1)
    gather      the reverse: every PE's ``buf`` (m words) into the first PE's ``buf`` (P * m), block i
                from snake[i]; switch-sequenced toward the root, nearest PE first
    reduce      sum of every PE's ``buf`` (n f32) into the last PE's ``res``: a pipelined chain along
                the snake on two colors alternating by position; snake[i] adds its ``buf`` to the
                running sum: res = (...((buf_0 + buf_1) + buf_2) ... + buf_{P-1}), element by element
                with golden/fp.py's f32 add (round to nearest even, canonical NaN) — that order is
                the specification, and the golden model computes exactly it
    allreduce   reduce, then the last PE broadcasts ``res`` to every PE's ``res`` (the same bits
                everywhere). The broadcast starts when the reduction is done: overlapping the two
                streams could deadlock (a PE's vector pipeline stalls on a blocked output).

Each collective is a ``Collective``: ``Collective.build(op, layout, region, n, root=None)`` adds its
colors, routes and program (task 0, started by ``Runtime.launch(0)``) to the layout;
``.run(rt, data)`` copies the inputs in, launches, runs until idle, copies the outputs out;
``.golden(data)`` is the expected output; ``.traffic()`` the link figures.

Link figures (bench/collectives.py): every link carries at most one wavelet per cycle per
direction, the RAMP link between a router and its PE included. ``busiest_link`` is the largest
number of data wavelets the algorithm puts on one directed link (phases it runs one after the
other add up), so ``link_bound_cycles = busiest_link`` and ``link_efficiency = busiest_link /
cycles`` says how close the run comes to one wavelet per cycle on its busiest link.
``lower_bound_cycles`` is the bound for any algorithm: a broadcast or reduce moves n words over
some link, scatter and gather (P - 1) m over the root's RAMP link, and every PE of an all-reduce
must take in 2 n (P - 1) / P words over its RAMP link (its share of the partial sums and of the
result).

Interface:
    OPS                       ("broadcast", "scatter", "gather", "reduce", "allreduce")
    snake(region) -> [pe]
    Collective.build(op, layout, region=None, n=..., root=None) -> Collective
        .op .region .n .block .pes .inputs_per_pe .outputs (symbol names)
        .run(rt, data: {pe: array}) -> ({pe: array}, cycles)    cycles from launch to idle
        .golden(data) -> {pe: array}
        .traffic() -> {"bytes", "busiest_link", "lower_bound_cycles"}
    standalone(op, rows, cols, region_spec, n, profile="small") -> (Layout, Collective)
    LIBRARY                   the device code's steps as assembler macros ({"collectives": ...}
                              and sdk/readout.py's "readout"), what each role's program calls
"""

from __future__ import annotations

import numpy as np

from golden import fp
from golden.routing import ColorRoute, mask_of
from hdl.wavelet import OPPOSITE, Port

from . import readout, routes
from .layout import Layout, Region
from .records import SdkError

__all__ = ["OPS", "snake", "Collective", "standalone", "LIBRARY"]

OPS = ("broadcast", "scatter", "gather", "reduce", "allreduce")
_STEP_PORT = {(0, 1): Port.E, (0, -1): Port.W, (1, 0): Port.S, (-1, 0): Port.N}


def snake(region: Region) -> list:
    out = []
    for i, r in enumerate(region.row_range):
        cols = list(region.col_range)
        out += [(r, c) for c in (cols if i % 2 == 0 else cols[::-1])]
    return out


def _dir(a, b) -> Port:
    return _STEP_PORT[(b[0] - a[0], b[1] - a[1])]


# Device code. Symbols: buf (and res for reduce/allreduce), scr (one scratch word); parameters: N
# (words), M (block words), P (PEs), colors KIN, KOUT, B. Task 0 runs the collective; every op is
# synchronous, so the task ends when the PE's part is done. The steps are macros (LIBRARY); each
# role's program calls them.
LIBRARY = {"collectives": r"""
.macro bcast_send                       ; broadcast: my buf to every PE
    .dsr d0, mem.f32, buf, N, 1
    .dsr d1, fout.f32, B, N
    vmov.f32 d1, d0
.endm
.macro bcast_recv                       ; broadcast: buf from the root
    .dsr d0, mem.f32, buf, N, 1
    .dsr d1, fin.f32, B, N
    vmov.f32 d0, d1
.endm
.macro block_in_views                   ; d0: a block of buf, d1: its wavelets, d2/d3: the ADVANCE
    .dsr d0, mem.f32, buf, M, 1
    .dsr d1, fin.f32, B, M
    .dsr d2, mem.f32, scr, 1, 1
    .dsr d3, fin.f32, B, 1
.endm
.macro recv_block                       ; a block into d0, then the ADVANCE behind it
    vmov.f32 d0, d1
    vmov.f32 d2, d3
.endm
.macro chain_first                      ; the running sum starts with my buf
    .dsr d0, mem.f32, buf, N, 1
    .dsr d3, fout.f32, KOUT, N
    vmov.f32 d3, d0
.endm
.macro chain_middle                     ; running sum + my buf, on to the next PE
    .dsr d0, mem.f32, buf, N, 1
    .dsr d2, fin.f32, KIN, N
    .dsr d3, fout.f32, KOUT, N
    vadd.f32 d3, d2, d0
.endm
.macro chain_last                       ; res = running sum + my buf: the total
    .dsr d0, mem.f32, buf, N, 1
    .dsr d1, mem.f32, res, N, 1
    .dsr d2, fin.f32, KIN, N
    vadd.f32 d1, d2, d0
.endm
.macro chain_single                     ; one PE: res = buf
    .dsr d0, mem.f32, buf, N, 1
    .dsr d1, mem.f32, res, N, 1
    vmov.f32 d1, d0
.endm
.macro total_send                       ; all-reduce: the total in res to every PE
    .dsr d5, fout.f32, B, N
    vmov.f32 d5, d1
.endm
.macro total_recv                       ; all-reduce: res = the total from the last PE
    .dsr d1, mem.f32, res, N, 1
    .dsr d4, fin.f32, B, N
    vmov.f32 d1, d4
.endm
""", **readout.LIBRARY}

_SRC = {
    ("broadcast", "root"): "bcast_send",
    ("broadcast", "other"): "bcast_recv",
    ("scatter", "root"): """
    .dsr d0, mem.f32, buf, M, 1         ; block i of buf
    .dsr d1, fout.f32, B, M
    li    r1, buf + M * 4
    li    r2, buf + P * M * 4
    li    r3, 1
next:
    beq   r1, r2, done
    dbase d0, r1, 0
    vmov.f32 d1, d0                     ; the block of the next PE along the snake
    send.c r3, B                        ; ADVANCE: that PE now forwards
    addi  r1, r1, M * 4
    j     next
done:""",
    ("scatter", "other"): "block_in_views\n    recv_block     ; my block",
    ("gather", "root"): """
    block_in_views
    li    r1, buf + M * 4
    li    r2, buf + P * M * 4
next:
    beq   r1, r2, done
    dbase d0, r1, 0
    recv_block                          ; the block of the next PE along the snake
    addi  r1, r1, M * 4
    j     next
done:""",
    ("gather", "other"): """
    .dsr d0, mem.f32, buf, M, 1
    .dsr d1, fout.f32, B, M
    send_block d1, d0, B, r1            ; then ADVANCE: my router forwards the PEs behind me""",
    ("reduce", "first"): "chain_first",
    ("reduce", "middle"): "chain_middle",
    ("reduce", "last"): "chain_last",
    ("reduce", "single"): "chain_single",
    ("allreduce", "first"): "chain_first\n    total_recv",
    ("allreduce", "middle"): "chain_middle\n    total_recv",
    ("allreduce", "last"): "chain_last\n    total_send",
    ("allreduce", "single"): "chain_single",
}


def _program(op: str, role: str) -> str:
    body = _SRC[(op, role)].strip()
    return f'.include "collectives"\n.include "readout"\n.task 0, coll\ncoll:\n    {body}\n    end\n'


class Collective:
    def __init__(self, op, layout, region, n, root):
        self.op, self.layout, self.region, self.n, self.root = op, layout, region, n, root
        self.pes = snake(region)
        self.P = len(self.pes)
        self.block = n  # words per PE block (scatter / gather)

    @property
    def inputs(self) -> str:
        return "buf"

    @property
    def outputs(self) -> str:
        return "res" if self.op in ("reduce", "allreduce") else "buf"

    # ---- building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, op: str, layout: Layout, region: Region | None = None, n: int = 64, root=None) -> Collective:
        if op not in OPS:
            raise SdkError(f"unknown collective {op!r}; collectives: {', '.join(OPS)}")
        region = layout.check_region(region)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SdkError(f"{op}: n={n!r} words must be a positive integer")
        self = cls(op, layout, region, n, root)
        if root is not None and op != "broadcast":
            raise SdkError(f"{op}: the root is the snake's {'last' if 'reduce' in op else 'first'} PE "
                           "(sdk/collectives.py); only broadcast takes another root")
        getattr(self, f"_build_{'reduce' if op == 'allreduce' else op}")()
        return self

    def _place(self, role_of, symbols, params_of):
        progs = {}
        for i, pe in enumerate(self.pes):
            role = role_of(i)
            if role not in progs:
                progs[role] = self.layout.program(_program(self.op, role), symbols=symbols, libraries=LIBRARY,
                                                  name=f"{self.op}-{role}")
            self.layout.place(progs[role], self.layout.region(pe[0], pe[1]), params=params_of(i))

    def _build_broadcast(self):
        lay = self.layout
        root = tuple(self.root) if self.root is not None else self.pes[0]
        if root not in self.region:
            raise SdkError(f"broadcast root {root} is outside the region {self.region}")
        self.root = root
        b = lay.color(f"{self.op}.b")
        if self.P > 1:
            lay.route(b, routes.broadcast(root=root), self.region)
        self._place(lambda i: "root" if self.pes[i] == root else "other", {"buf": ("f32", self.n)},
                    lambda i: {"N": self.n, "B": b})

    def _snake_routes(self, color, toward_root: bool):
        """One color along the snake with the switch positions of scatter (from the first PE) or
        gather (toward it)."""
        out = {}
        pes = self.pes
        for i, pe in enumerate(pes):
            if not toward_root:
                if i == 0:
                    out[pe] = ColorRoute(((mask_of(Port.RAMP), mask_of(_dir(pe, pes[1]))),))
                    continue
                rx = mask_of(OPPOSITE[_dir(pes[i - 1], pe)])
                pos = [(rx, mask_of(Port.RAMP))] + ([(rx, mask_of(_dir(pe, pes[i + 1])))] if i + 1 < len(pes) else [])
            else:
                if i == 0:
                    out[pe] = ColorRoute(((mask_of(_dir(pe, pes[1])), mask_of(Port.RAMP)),))
                    continue
                tx = mask_of(_dir(pe, pes[i - 1]))
                pos = [(mask_of(Port.RAMP), tx)] + (
                    [(mask_of(_dir(pe, pes[i + 1])), tx)] if i + 1 < len(pes) else [])
            out[pe] = ColorRoute(tuple(pos))
        self.layout.route(color, routes.custom(out, f"{self.op} along the snake"), self.region)

    def _build_scatter(self):
        b = self.layout.color(f"{self.op}.b")
        if self.P > 1:
            self._snake_routes(b, toward_root=False)
        syms_root = {"buf": ("f32", self.P * self.n), "scr": ("f32", 1)}
        syms = {"buf": ("f32", self.n), "scr": ("f32", 1)}
        self._place_roles(syms_root, syms, b)

    def _build_gather(self):
        b = self.layout.color(f"{self.op}.b")
        if self.P > 1:
            self._snake_routes(b, toward_root=True)
        self._place_roles({"buf": ("f32", self.P * self.n), "scr": ("f32", 1)}, {"buf": ("f32", self.n)}, b)

    def _place_roles(self, syms_root, syms_other, b):
        params = {"M": self.n, "P": self.P, "B": b}
        root = self.layout.program(_program(self.op, "root"), symbols=syms_root, name=f"{self.op}-root",
                                   libraries=LIBRARY)
        self.layout.place(root, self.layout.region(*self.pes[0]), params=params)
        if self.P > 1:
            other = self.layout.program(_program(self.op, "other"), symbols=syms_other, name=f"{self.op}-other",
                                        libraries=LIBRARY)
            for pe in self.pes[1:]:
                self.layout.place(other, self.layout.region(*pe), params=params)

    def _build_reduce(self):
        lay = self.layout
        k = (lay.color(f"{self.op}.k0"), lay.color(f"{self.op}.k1")) if self.P > 1 else (None, None)
        for i in range(self.P - 1):  # snake[i] sends on k[i % 2], snake[i + 1] receives it
            a, z = self.pes[i], self.pes[i + 1]
            d = _dir(a, z)
            lay.route(k[i % 2], routes.custom({a: ColorRoute(((mask_of(Port.RAMP), mask_of(d)),)),
                                               z: ColorRoute(((mask_of(OPPOSITE[d]), mask_of(Port.RAMP)),))},
                                              f"{self.op} chain {a}->{z}"), self.region)
        b = None
        if self.op == "allreduce" and self.P > 1:
            b = lay.color(f"{self.op}.b")
            lay.route(b, routes.broadcast(root=self.pes[-1]), self.region)

        def role(i):
            return "single" if self.P == 1 else "first" if i == 0 else "last" if i == self.P - 1 else "middle"

        def params(i):
            p = {"N": self.n}
            if k[0] is not None:
                p["KIN"], p["KOUT"] = int(k[(i - 1) % 2]), int(k[i % 2])
            if b is not None:
                p["B"] = int(b)
            return p

        self._place(role, {"buf": ("f32", self.n), "res": ("f32", self.n)}, params)

    # ---- running -------------------------------------------------------------------------------
    def input_size(self, pe) -> int:
        return self.P * self.n if self.op == "scatter" and pe == self.pes[0] else self.n

    def output_size(self, pe) -> int:
        return self.P * self.n if self.op == "gather" and pe == self.pes[0] else self.n

    def input_pes(self) -> list:
        return [self.pes[0]] if self.op == "scatter" else self.pes

    def output_pes(self) -> list:
        if self.op == "gather":
            return [self.pes[0]]
        if self.op == "reduce":
            return [self.pes[-1]]
        return self.pes

    def run(self, rt, data: dict):
        """Copy ``data`` ({pe: f32 array}, for ``input_pes()``) into ``buf``, launch, run until idle;
        ({pe: f32 array} of ``output_pes()``, cycles from the launch to idle)."""
        for pe in self.input_pes():
            v = np.asarray(data[pe], np.float32)
            if self.op == "gather" and pe == self.pes[0]:  # the root's buf holds every block; its own first
                v = np.concatenate([v, np.zeros((self.P - 1) * self.n, np.float32)])
            rt.h2d("buf", v, rt.layout.region(*pe))
        rt.flush()  # the inputs are in before the launch, which is timed alone
        rt.launch(0, self.region)
        res = rt.run("idle")
        cycles = None if res.cycles is None else res.cycles + (rt.last_load_cycles or 0)
        out = {pe: rt.d2h(self.outputs, rt.layout.region(*pe))[:self.output_size(pe)] for pe in self.output_pes()}
        return out, cycles

    def golden(self, data: dict) -> dict:
        if self.op == "broadcast":
            v = np.asarray(data[self.root], np.float32)
            return {pe: v.copy() for pe in self.pes}
        if self.op == "scatter":
            v = np.asarray(data[self.pes[0]], np.float32)
            return {pe: v[i * self.n:(i + 1) * self.n].copy() for i, pe in enumerate(self.pes)}
        if self.op == "gather":
            return {self.pes[0]: np.concatenate([np.asarray(data[pe], np.float32) for pe in self.pes])}
        acc = np.asarray(data[self.pes[0]], np.float32).view(np.uint32).copy()
        for pe in self.pes[1:]:
            x = np.asarray(data[pe], np.float32).view(np.uint32)
            acc = np.array([fp.add_f32(int(a), int(b)) for a, b in zip(acc, x, strict=True)], np.uint32)
        total = acc.view(np.float32)
        return {pe: total.copy() for pe in self.output_pes()}

    def traffic(self) -> dict:
        n, P = self.n, self.P
        if self.op in ("broadcast", "reduce"):
            busiest, lower, moved = n, n, n
        elif self.op == "allreduce":
            busiest = 2 * n if P > 1 else n
            lower = 2 * n * (P - 1) / P if P > 1 else n
            moved = n
        else:  # scatter, gather: the root's RAMP link carries every other PE's block
            busiest = lower = (P - 1) * n
            moved = P * n
        return {"bytes": 4 * moved, "busiest_link": busiest, "lower_bound_cycles": lower}


def standalone(op: str, rows: int, cols: int, n: int, profile="small", region=None, root=None):
    """A layout with only the collective ``op`` over ``region`` (default: the whole mesh)."""
    lay = Layout(rows, cols, profile)
    coll = Collective.build(op, lay, region if region is not None else lay.all(), n, root)
    return lay, coll
