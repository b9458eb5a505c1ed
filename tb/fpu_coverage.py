"""FMAC-lane coverage of the rounding datapath, sampled from the lane's ports (tb/cocotb_fpu.py).

Role
----
The lane monitor hands every accepted operand tuple (read back from the lane's input ports in the
cycle it was taken) and the result that left ``FPLane.LATENCY`` enabled edges later. This module
works out, with exact integer arithmetic written from IEEE 754 (nothing from golden/fp.py or the
RTL), where that case sits in the rounding datapath, one group per op ``fpu.<OP>``:

    ("rnd", kept LSB, round bit, sticky)   of the exact result rounded to the output format, for
                                           finite nonzero exact results (8 bins; round = 1 and
                                           sticky = 0 is a tie)
    ("addend", above|overlap|far_below)    fmac ops, finite nonzero accumulator and product: the
                                           accumulator's leading bit above the product's, within
                                           the product's exact bits (or one below), or wholly
                                           below them (it only reaches the sticky bit)
    ("result", class)                      the result the lane produced: normal, subnormal,
                                           overflow (finite exact, infinite result),
                                           underflow_zero (nonzero exact, zero result), zero
                                           (exact zero), inf, nan
    ("wrap", up|down|none)                 the integer MAC instead: wrapped past the top, the
                                           bottom, or not

Interface
---------
FpuCoverage(op_name, arg_kinds, out_kind)  .sample(args, result); .group; .save(run)
classify(op_name, arg_kinds, out_kind, args, result) -> [bin]
"""

from __future__ import annotations

from .coverage import CoverGroup, save

__all__ = ["FpuCoverage", "classify", "bins_of"]

# kind -> (exponent bits, fraction bits)
_FMT = {"f16": (5, 10), "f32": (8, 23)}
RESULT_CLASSES = ("normal", "subnormal", "overflow", "underflow_zero", "zero", "inf", "nan")


def _decode(kind, bits):
    """("nan",), ("inf", sign) or ("num", sign, M, E): the value (-1)**sign * M * 2**E."""
    eb, mb = _FMT[kind]
    bias = (1 << (eb - 1)) - 1
    sign = bits >> (eb + mb) & 1
    field = bits >> mb & ((1 << eb) - 1)
    frac = bits & ((1 << mb) - 1)
    if field == (1 << eb) - 1:
        return ("nan",) if frac else ("inf", sign)
    if field == 0:
        return ("num", sign, frac, 1 - bias - mb)
    return ("num", sign, frac | 1 << mb, field - bias - mb)


def _signed_int(v):
    return -v[2] if v[1] else v[2]


def _exact(op, kinds, args):
    """The exact result: a special ("nan"/"inf") or (sign, M, E) with M >= 0; and the addend position."""
    vals = [_decode(k, a) for k, a in zip(kinds, args, strict=True)]
    if any(v[0] == "nan" for v in vals):
        return ("nan",), None
    if op.startswith("FMAC"):
        acc, x, y = vals
        if x[0] == "inf" or y[0] == "inf":
            other = y if x[0] == "inf" else x
            if other[0] == "num" and other[2] == 0:
                return ("nan",), None  # inf * 0
            psign = x[1] ^ y[1]
            if acc[0] == "inf" and acc[1] != psign:
                return ("nan",), None
            return ("inf", psign), None
        if acc[0] == "inf":
            return acc, None
        pm, pe = _signed_int(x) * _signed_int(y), x[3] + y[3]
        am, ae = _signed_int(acc), acc[3]
        pos = None
        if pm and am:
            p_top = abs(pm).bit_length() - 1 + pe
            p_low = pe + ((abs(pm) & -abs(pm)).bit_length() - 1)  # the product's lowest set bit
            a_top = abs(am).bit_length() - 1 + ae
            pos = "above" if a_top > p_top else "overlap" if a_top >= p_low - 1 else "far_below"
        e = min(pe, ae)
        s = (pm << (pe - e)) + (am << (ae - e))
        return ("num", int(s < 0), abs(s), e), pos
    if op.startswith(("ADD", "MUL")):
        x, y = vals
        if op.startswith("MUL"):
            if x[0] == "inf" or y[0] == "inf":
                other = y if x[0] == "inf" else x
                if other[0] == "num" and other[2] == 0:
                    return ("nan",), None
                return ("inf", x[1] ^ y[1]), None
            m = x[2] * y[2]
            return ("num", x[1] ^ y[1], m, x[3] + y[3]), None
        if x[0] == "inf" or y[0] == "inf":
            if x[0] == y[0] == "inf" and x[1] != y[1]:
                return ("nan",), None
            return (x if x[0] == "inf" else y), None
        e = min(x[3], y[3])
        s = (_signed_int(x) << (x[3] - e)) + (_signed_int(y) << (y[3] - e))
        return ("num", int(s < 0), abs(s), e), None
    (x,) = vals  # conversions
    return x, None


def _round_bits(out, m, e):
    """(kept LSB, round, sticky) of M * 2**E (M > 0) rounded to ``out``'s grid."""
    eb, mb = _FMT[out]
    bias = (1 << (eb - 1)) - 1
    top = m.bit_length() - 1 + e
    quantum = max(top - mb, 1 - bias - mb)  # the spacing of the grid in the value's binade
    shift = quantum - e
    if shift <= 0:
        return (m << -shift) & 1, 0, 0
    kept = m >> shift
    return kept & 1, m >> (shift - 1) & 1, int(m & ((1 << (shift - 1)) - 1) != 0)


def _result_class(out, exact, result):
    eb, mb = _FMT[out]
    mag = result & ((1 << (eb + mb)) - 1)
    field = mag >> mb
    if exact[0] in ("nan", "inf"):
        return exact[0]
    if exact[2] == 0:
        return "zero"
    if field == (1 << eb) - 1:
        return "overflow" if mag == (1 << eb) - 1 << mb else "nan"
    if mag == 0:
        return "underflow_zero"
    return "subnormal" if field == 0 else "normal"


def classify(op, kinds, out, args, result):
    if out.startswith("i"):
        acc, a, b = args
        acc = acc - (1 << 32) if acc >> 31 else acc
        a = a - (1 << 16) if a >> 15 else a
        b = b - (1 << 16) if b >> 15 else b
        t = acc + a * b
        return [("wrap", "up" if t >= 1 << 31 else "down" if t < -(1 << 31) else "none")]
    exact, pos = _exact(op, kinds, args)
    bins = [("result", _result_class(out, exact, result))]
    if exact[0] == "num" and exact[2]:
        bins.append(("rnd",) + _round_bits(out, exact[2], exact[3]))
    if pos is not None:
        bins.append(("addend", pos))
    return bins


def bins_of(op, out):
    if out.startswith("i"):
        return [("wrap", k) for k in ("up", "down", "none")]
    bins = [("result", c) for c in RESULT_CLASSES]
    bins += [("rnd", lsb, r, s) for lsb in (0, 1) for r in (0, 1) for s in (0, 1)]
    if op.startswith("FMAC"):
        bins += [("addend", p) for p in ("above", "overlap", "far_below")]
    return bins


class FpuCoverage:
    def __init__(self, op, kinds, out):
        self.op, self.kinds, self.out = op, tuple(kinds), out
        self.masks = tuple((1 << (16 if k in ("f16", "i16") else 32)) - 1 for k in kinds)
        self.group = CoverGroup(f"fpu.{op}", bins_of(op, out), "rounding datapath cases seen at the lane's ports")

    def sample(self, args, result):
        args = tuple(a & m for a, m in zip(args, self.masks, strict=True))
        for b in classify(self.op, self.kinds, self.out, args, result):
            self.group.sample(b)

    def save(self, run: str):
        return save([self.group], run)
