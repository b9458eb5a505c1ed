"""Shared pieces of the formal harnesses (tb/formal/router.py, mgmt.py, bridge.py).

    internals(fragment) -> {name: Signal} the signals a ``Fragment`` drives or reads, by name: the
                                          white-box handles of the helper invariants; those of a
                                          named submodule as "sub.name" ("queue_p0_c1.count")
    elaborate(component, platform)        (Fragment, internals, Module) of a component: add the
                                          fragment as a submodule; the Module names its submodules
    first_cycle(m) -> Signal              1 in the first cycle only
    anyconst(m, shape, limit=None)        a value the tool picks once (``AnyConst``), < limit
    saturating(m, width, inc, clear)      a counter: 0 on ``clear``, + 1 on ``inc`` up to its top

Helper invariants (asserts on internal state) only strengthen k-induction: each is itself proven,
so they add no assumption; the properties they serve are stated on the ports where possible.
"""

from __future__ import annotations

from amaranth import Signal
from amaranth.asserts import AnyConst
from amaranth.hdl import Assume, Fragment

__all__ = ["internals", "elaborate", "first_cycle", "anyconst", "saturating"]


class _Names(dict):
    """name -> Signal; a name two signals share cannot be looked up."""

    def __init__(self):
        super().__init__()
        self.shared = set()

    def __getitem__(self, name):
        if name in self.shared:
            raise KeyError(f"two signals are named {name!r}: the helpers cannot tell them apart")
        return super().__getitem__(name)


def internals(fragment: Fragment, names=None, prefix="") -> dict:
    names = _Names() if names is None else names
    for stmts in fragment.statements.values():
        for s in stmts:
            for sig in (*s._lhs_signals(), *s._rhs_signals()):
                if names.setdefault(prefix + sig.name, sig) is not sig:
                    names.shared.add(prefix + sig.name)
    for sub, name, _ in fragment.subfragments:
        if name is not None:
            internals(sub, names, f"{prefix}{name}.")
    return names


def elaborate(component, platform):
    module = component.elaborate(platform)
    component._MustUse__used = True  # it is used: through its module
    fragment = Fragment.get(module, platform)  # lowers FSMs into plain statements
    return fragment, internals(fragment), module


def first_cycle(m):
    first = Signal(init=1)
    m.d.sync += first.eq(0)
    return first


def anyconst(m, shape, limit=None, name=None):
    sig = Signal(shape, name=name)
    m.d.comb += sig.eq(AnyConst(shape))
    if limit is not None:
        m.d.comb += Assume(sig < limit)
    return sig


def saturating(m, width, inc, clear, name=None):
    cnt = Signal(width, name=name)
    top = (1 << width) - 1
    with m.If(clear):
        m.d.sync += cnt.eq(0)
    with m.Elif(inc & (cnt != top)):
        m.d.sync += cnt.eq(cnt + 1)
    return cnt
