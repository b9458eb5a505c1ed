"""One SIMD lane of the PE's FMAC unit: f32/f16 fused multiply-add, add, multiply, conversions and
the i16 x i16 + i32 integer MAC, bit-exact against golden/fp.py (docs/floating-point.md).

Role
----
``FPLane`` executes one ``FpOp`` per cycle, fully pipelined with a fixed latency of
``FPLane.LATENCY`` (= 4) enabled clock edges and no internal stalls. Every floating-point op is
mapped onto a single fused multiply-add datapath ``C + X * Y`` that rounds once (RNE, subnormals,
overflow to inf, canonical NaN), so there is exactly one rounding circuit to get right:

======================  ========  ========  =================  ===============  ==============
op                      X         Y         C (addend)         X, Y format      C, result fmt
======================  ========  ========  =================  ===============  ==============
FMAC_F32_F16            a[15:0]   b[15:0]   acc                f16              f32
FMAC_F32                a         b         acc                f32              f32
FMAC_F16                a[15:0]   b[15:0]   acc[15:0]          f16              f16
ADD_F32   (a + b)       a         1.0       b                  f32              f32
ADD_F16                 a[15:0]   1.0       b[15:0]            f16              f16
MUL_F32   (a * b)       a         b         -0                 f32              f32
MUL_F16                 a[15:0]   b[15:0]   -0                 f16              f16
CVT_F16_F32 (f16->f32)  a[15:0]   1.0       -0                 f16              f32
CVT_F32_F16 (f32->f16)  a         1.0       -0                 f32              f16
MAC_I32_I16             acc + sext(a[15:0]) * sext(b[15:0]), modulo 2**32 (the multiplier and
                        the adder of the float datapath are reused)
======================  ========  ========  =================  ===============  ==============

Operands not listed for an op are ignored (for example ADD ignores ``acc``, CVT ignores ``acc``
and ``b``), as are the upper 16 bits of f16 operands. ``a * 1.0`` is exact and keeps the sign of
``a``; ``p + (-0)`` is ``p`` for every p, including ``+0 + -0 = +0`` and ``-0 + -0 = -0``; so ADD,
MUL and the conversions are exactly the IEEE results with one rounding (the tests check this
against the golden model, signed zeros included). f16 results are zero-extended to 32 bits.
Reserved op encodings (10..15) return the canonical f32 NaN 0x7FC00000.

Interface (an ``amaranth.lib.wiring.Component``; domain ``sync`` with its reset)
    en         In(1)      the pipeline (and its output) advances only on edges where en = 1
    in_valid   In(1)      an operation is accepted on an edge with en = 1 and in_valid = 1
    op         In(FpOp)   4 bits
    acc, a, b  In(32)     f16 operands in the low 16 bits
    out_valid  Out(1)     registered; result of the op accepted LATENCY enabled edges earlier
    result     Out(32)    registered; f16 results zero-extended

``en`` acts as the ready of both ends: with en = 1 an edge takes the input and hands the
output (out_valid/result seen during that cycle) to the consumer; with en = 0 nothing moves and
out_valid/result hold, so a result counts as delivered once, on a cycle with en = 1.

Datapath (X, Y, C normalised so that their significands have the MSB set; exponents are unbiased
and signed, so subnormal inputs simply get exponents below emin)
    1  unpack per format, classify (zero/inf/NaN), normalise the significands (3 x LZC-24),
       product exponent Ep = Ex + Ey, alignment shift of C against the product
    2  exact 24 x 24 product; C shifted into a 75-bit window (product at bits 48..1, C at
       74..51 before the shift, bit 0 is a sticky slot for C bits shifted out of the window)
    3  add or subtract in the window, absolute value, leading-zero count
    4  one shift that both normalises and, for subnormal results, denormalises onto the
       output grid; RNE increment; pack (carries into the exponent field for free);
       overflow to inf; special values (NaN, inf, signed zeros) override the result
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FpOp", "FPLane", "F32_QNAN", "F16_QNAN"]

F32_QNAN = 0x7FC00000
F16_QNAN = 0x7E00

# Window layout (see the module docstring): bit 0 sticky, product bits 48..1, addend MSB at 74 when
# unshifted. Two guard bits (50, 49) separate an unshifted addend's LSB from the product, which is
# what lets a product far below the addend be treated as a sticky contribution (clamped shift).
_WIN = 75
_ADD_TOP = 74  # window bit of the addend MSB before the right shift
_P_LSB = 1  # window bit of product bit 0
_SUM = 76  # the add is done one bit wider than the window (cannot carry out, but costs nothing)
_EXP = signed(12)  # unbiased exponents: the product alone spans [-298, 254]
_NN = 116  # stage-4 shifter output: the MSB lands at bit 115 - s, s <= 40
_KEEP_LSB = 92  # kept significand = nn[92:116], round bit = nn[91], sticky = nn[0:91]


class FpOp(enum.IntEnum, shape=4):
    """Operation codes of the lane (the ``op`` port); see the module docstring for operands."""
    FMAC_F32_F16 = 0  # f32 acc + f16 a * f16 b (GEMM mode)
    FMAC_F32 = 1  # f32 acc + f32 a * f32 b, fused
    FMAC_F16 = 2  # f16 acc + f16 a * f16 b, fused
    ADD_F32 = 3  # a + b
    ADD_F16 = 4
    MUL_F32 = 5  # a * b
    MUL_F16 = 6
    CVT_F16_F32 = 7  # f16 a -> f32
    CVT_F32_F16 = 8  # f32 a -> f16, RNE
    MAC_I32_I16 = 9  # acc + a[15:0] * b[15:0], signed, wraps modulo 2**32


# op -> (X,Y are f16, C/result are f16, Y source, C source)
_Y_B, _Y_ONE = 0, 1
_C_ACC, _C_B, _C_NEGZERO = 0, 1, 2
_DECODE = {
    FpOp.FMAC_F32_F16: (1, 0, _Y_B, _C_ACC),
    FpOp.FMAC_F32: (0, 0, _Y_B, _C_ACC),
    FpOp.FMAC_F16: (1, 1, _Y_B, _C_ACC),
    FpOp.ADD_F32: (0, 0, _Y_ONE, _C_B),
    FpOp.ADD_F16: (1, 1, _Y_ONE, _C_B),
    FpOp.MUL_F32: (0, 0, _Y_B, _C_NEGZERO),
    FpOp.MUL_F16: (1, 1, _Y_B, _C_NEGZERO),
    FpOp.CVT_F16_F32: (1, 0, _Y_ONE, _C_NEGZERO),
    FpOp.CVT_F32_F16: (0, 1, _Y_ONE, _C_NEGZERO),
}


def _lzc(m: Module, value, name: str):
    """Leading-zero count of a nonzero ``value`` as a Signal: a tree of 2:1 muxes.

    Each node splits off a power-of-two upper part, so the count of the lower part is appended
    below a constant bit instead of being added. The count of an all-zero input is unspecified:
    callers handle zero separately."""
    def tree(v, w):
        if w == 1:
            return ~v[0], Const(0, 0)
        hi_w = 1 << ((w - 1).bit_length() - 1)  # largest power of two below w
        hi_zero, hi_cnt = tree(v[w - hi_w:], hi_w)
        lo_zero, lo_cnt = tree(v[: w - hi_w], w - hi_w)
        bits = len(hi_cnt)
        # With the upper part zero the count is hi_w + lo_cnt, and lo_cnt < w - hi_w <= hi_w.
        lo_cnt = Cat(lo_cnt, Const(0, bits - len(lo_cnt)))[:bits]
        return hi_zero & lo_zero, Mux(hi_zero, Cat(lo_cnt, Const(1, 1)), Cat(hi_cnt, Const(0, 1)))

    _, count = tree(value, len(value))
    out = Signal(range(len(value) + 1), name=name)
    m.d.comb += out.eq(count)
    return out


class _Unpacked:
    """Combinational unpacking of one f16/f32 operand into normalised sign/exponent/significand."""

    def __init__(self, m: Module, bits, is16, name: str):
        self.sign = Signal(name=f"{name}_sign")
        self.zero = Signal(name=f"{name}_zero")
        self.inf = Signal(name=f"{name}_inf")
        self.nan = Signal(name=f"{name}_nan")
        self.sig = Signal(24, name=f"{name}_sig")  # normalised: bit 23 set unless zero
        self.exp = Signal(_EXP, name=f"{name}_exp")  # value = sig * 2**(exp - 23)
        ef_zero = Signal(name=f"{name}_ef_zero")
        ef_ones = Signal(name=f"{name}_ef_ones")
        frac_nz = Signal(name=f"{name}_frac_nz")
        raw = Signal(24, name=f"{name}_raw")
        raw_exp = Signal(_EXP, name=f"{name}_raw_exp")  # exponent of raw bit 23
        with m.If(is16):
            m.d.comb += [
                self.sign.eq(bits[15]),
                ef_zero.eq(bits[10:15] == 0),
                ef_ones.eq(bits[10:15] == 0x1F),
                frac_nz.eq(bits[0:10] != 0),
                # The f16 significand is placed at the top of the 24 bits; its exponent compensates.
                raw.eq(Cat(Const(0, 13), bits[0:10], ~ef_zero)),
                raw_exp.eq(Mux(ef_zero, -14, bits[10:15] - 15)),
            ]
        with m.Else():
            m.d.comb += [
                self.sign.eq(bits[31]),
                ef_zero.eq(bits[23:31] == 0),
                ef_ones.eq(bits[23:31] == 0xFF),
                frac_nz.eq(bits[0:23] != 0),
                raw.eq(Cat(bits[0:23], ~ef_zero)),
                raw_exp.eq(Mux(ef_zero, -126, bits[23:31] - 127)),
            ]
        lz = _lzc(m, raw, f"{name}_lz")
        m.d.comb += [
            self.zero.eq(ef_zero & ~frac_nz),
            self.inf.eq(ef_ones & ~frac_nz),
            self.nan.eq(ef_ones & frac_nz),
            self.sig.eq((raw << lz)[0:24]),
            self.exp.eq(raw_exp - lz),
        ]


class FPLane(wiring.Component):
    """One FMAC lane; see the module docstring."""

    # Four register stages: stage 1 ends after the input LZCs and exponent arithmetic, stage 2
    # after the 24x24 multiplier (in parallel with the addend's alignment shifter), stage 3 after
    # the 76-bit add/negate and LZC, stage 4 after the single normalise/denormalise shifter, the
    # rounding increment and the packing. Each stage holds roughly one wide carry chain or one
    # log-depth shifter plus small logic, which balances the stages; fewer stages would put the
    # multiplier and the wide add (or the add, LZC and shift) in series.
    LATENCY = 4

    def __init__(self):
        super().__init__({
            "en": In(1),
            "in_valid": In(1),
            "op": In(FpOp),
            "acc": In(32),
            "a": In(32),
            "b": In(32),
            "out_valid": Out(1),
            "result": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        en = self.en

        # ---- stage 1: decode, unpack, normalise, exponents ----------------------------------
        mul16 = Signal()
        out16 = Signal()
        y_one = Signal()
        c_src = Signal(2)
        is_int = Signal()
        bad_op = Signal()
        with m.Switch(self.op):
            for op, (m16, o16, ysrc, csrc) in _DECODE.items():
                with m.Case(op):
                    m.d.comb += [mul16.eq(m16), out16.eq(o16), y_one.eq(ysrc == _Y_ONE), c_src.eq(csrc)]
            with m.Case(FpOp.MAC_I32_I16):
                m.d.comb += is_int.eq(1)
            with m.Default():
                m.d.comb += bad_op.eq(1)

        y_bits = Signal(32)
        c_bits = Signal(32)
        m.d.comb += [
            y_bits.eq(Mux(y_one, Mux(mul16, 0x3C00, 0x3F800000), self.b)),
            c_bits.eq(Mux(c_src == _C_ACC, self.acc,
                          Mux(c_src == _C_B, self.b, Mux(out16, 0x8000, 0x80000000)))),
        ]
        x = _Unpacked(m, self.a, mul16, "x")
        y = _Unpacked(m, y_bits, mul16, "y")
        c = _Unpacked(m, c_bits, out16, "c")

        p_sign = Signal()
        p_zero = Signal()
        p_inf = Signal()
        e_p = Signal(_EXP)
        shamt = Signal(_EXP)
        clamp = Signal()
        m.d.comb += [
            p_sign.eq(x.sign ^ y.sign),
            p_zero.eq(x.zero | y.zero),
            p_inf.eq(x.inf | y.inf),
            e_p.eq(x.exp + y.exp),
            # Right shift that puts C's MSB (exponent Ec) at its place in the product's window.
            shamt.eq(e_p + (_ADD_TOP - 46 - _P_LSB) - c.exp),
            # C far above the product (or the product zero): keep C unshifted at the top and let
            # the product sit below the guard bits, where it only contributes a sticky/borrow.
            clamp.eq(~c.zero & (p_zero | (shamt < 0))),
        ]

        # Integer MAC: magnitudes through the float multiplier, the sign applied in the adder.
        a16 = self.a[0:16].as_signed()
        b16 = self.b[0:16].as_signed()
        a_mag = Signal(16)
        b_mag = Signal(16)
        m.d.comb += [a_mag.eq(Mux(a16 < 0, -a16, a16)), b_mag.eq(Mux(b16 < 0, -b16, b16))]

        r1_valid = Signal()
        r1_out16 = Signal(reset_less=True)
        r1_int = Signal(reset_less=True)
        r1_sx = Signal(24, reset_less=True)
        r1_sy = Signal(24, reset_less=True)
        r1_sc = Signal(24, reset_less=True)
        r1_acc = Signal(32, reset_less=True)
        r1_sh = Signal(range(_ADD_TOP + 1), reset_less=True)
        r1_ew0 = Signal(_EXP, reset_less=True)  # exponent of window bit 0
        r1_sub = Signal(reset_less=True)  # effective subtraction
        r1_c_sign = Signal(reset_less=True)
        r1_p_sign = Signal(reset_less=True)
        r1_zero_both = Signal(reset_less=True)
        r1_nan = Signal(reset_less=True)
        r1_inf = Signal(reset_less=True)
        r1_inf_sign = Signal(reset_less=True)
        with m.If(en):
            m.d.sync += [
                r1_valid.eq(self.in_valid),
                r1_out16.eq(out16),
                r1_int.eq(is_int),
                r1_sx.eq(Mux(is_int, a_mag, x.sig)),
                r1_sy.eq(Mux(is_int, b_mag, y.sig)),
                r1_sc.eq(c.sig),
                r1_acc.eq(self.acc),
                r1_sh.eq(Mux(clamp | c.zero, 0, Mux(shamt > _ADD_TOP, _ADD_TOP, shamt))),
                r1_ew0.eq(Mux(clamp, c.exp - _ADD_TOP, e_p - 46 - _P_LSB)),
                r1_sub.eq(Mux(is_int, self.a[15] ^ self.b[15], c.sign ^ p_sign)),
                r1_c_sign.eq(c.sign),
                r1_p_sign.eq(p_sign),
                r1_zero_both.eq(p_zero & c.zero),
                # Any NaN input, 0 * inf, inf - inf, or a reserved op code (those decode with
                # out16 = 0, so they give the f32 NaN). MAC_I32_I16 ignores all of these flags.
                r1_nan.eq(bad_op | x.nan | y.nan | c.nan | (p_inf & p_zero)
                          | (p_inf & c.inf & (p_sign != c.sign))),
                r1_inf.eq(p_inf | c.inf),
                r1_inf_sign.eq(Mux(p_inf, p_sign, c.sign)),
            ]

        # ---- stage 2: product and addend alignment ------------------------------------------
        product = Signal(48)
        field = Signal(_ADD_TOP + 24)  # C at the top; bits below window bit 1 become sticky
        window = Signal(_WIN)
        m.d.comb += [
            product.eq(r1_sx * r1_sy),
            field.eq(Cat(Const(0, _ADD_TOP), r1_sc) >> r1_sh),
            window.eq(Cat(field[0:24] != 0, field[24:])),
        ]
        r2_valid = Signal()
        r2_prod = Signal(48, reset_less=True)
        r2_win = Signal(_WIN, reset_less=True)
        r2 = [Signal(_EXP, reset_less=True, name="r2_ew0")] + [
            Signal(reset_less=True, name=f"r2_{n}") for n in
            ("out16", "int", "sub", "c_sign", "p_sign", "zero_both", "nan", "inf", "inf_sign")]
        r1 = [r1_ew0, r1_out16, r1_int, r1_sub, r1_c_sign, r1_p_sign, r1_zero_both, r1_nan, r1_inf,
              r1_inf_sign]
        (r2_ew0, r2_out16, r2_int, r2_sub, r2_c_sign, r2_p_sign, r2_zero_both, r2_nan, r2_inf,
         r2_inf_sign) = r2
        with m.If(en):
            m.d.sync += [
                r2_valid.eq(r1_valid),
                r2_prod.eq(product),
                r2_win.eq(Mux(r1_int, r1_acc, window)),
            ]
            m.d.sync += [dst.eq(src) for dst, src in zip(r2, r1, strict=True)]

        # ---- stage 3: add, absolute value, leading zeros ------------------------------------
        p_win = Signal(_P_LSB + 48)
        total = Signal(_SUM + 1)  # two's complement, one bit above the magnitude
        mag = Signal(_SUM)
        neg = Signal()
        m.d.comb += [
            # The integer MAC adds the product at bit 0 (acc sits at bit 0 of the window).
            p_win.eq(Mux(r2_int, r2_prod, Cat(Const(0, _P_LSB), r2_prod))),
            total.eq(Mux(r2_sub, r2_win - p_win, r2_win + p_win)),
            neg.eq(total[_SUM]),
            mag.eq(Mux(neg, -total, total)[0:_SUM]),
        ]
        lz = _lzc(m, mag, "sum_lz")
        r3_valid = Signal()
        r3_mag = Signal(_SUM, reset_less=True)
        r3_lz = Signal(range(_SUM + 1), reset_less=True)
        r3_sign = Signal(reset_less=True)
        r3_int_res = Signal(32, reset_less=True)
        r3 = [Signal(_EXP, reset_less=True, name="r3_ew0")] + [
            Signal(reset_less=True, name=f"r3_{n}") for n in ("out16", "int", "nan", "inf", "inf_sign")]
        r3_ew0, r3_out16, r3_int, r3_nan, r3_inf, r3_inf_sign = r3
        r3_zero_sign = Signal(reset_less=True)
        with m.If(en):
            m.d.sync += [
                r3_valid.eq(r2_valid),
                r3_mag.eq(mag),
                r3_lz.eq(lz),
                # C - P < 0 flips the sign to the product's.
                r3_sign.eq(Mux(r2_sub & neg, r2_p_sign, r2_c_sign)),
                r3_int_res.eq(total[0:32]),
                # An exact zero sum is -0 only if both addends are -0; else (cancellation) +0.
                r3_zero_sign.eq(r2_zero_both & r2_c_sign & r2_p_sign),
            ]
            m.d.sync += [dst.eq(src) for dst, src in
                         zip(r3, [r2_ew0, r2_out16, r2_int, r2_nan, r2_inf, r2_inf_sign], strict=True)]

        # ---- stage 4: normalise/denormalise, round, pack, specials ---------------------------
        e_msb = Signal(_EXP)  # exponent of the sum's leading one
        deficit = Signal(_EXP)  # how far below the output's emin that is
        den = Signal(range(28))  # extra right shift onto the subnormal grid (saturated)
        rshift = Signal(range(41))  # total right shift of the normalised value
        lshift = Signal(range(_SUM + 40))
        nn = Signal(_NN)
        m.d.comb += [
            e_msb.eq(r3_ew0 + (_SUM - 1) - r3_lz),
            deficit.eq(Mux(r3_out16, -14, -126) - e_msb),
            # 27 is enough: beyond a deficit of 25 (f32) / 12 (f16) the result rounds to zero anyway.
            den.eq(Mux(deficit <= 0, 0, Mux(deficit > 27, 27, deficit))),
            # f16 keeps 11 bits: its kept field is the low end of the 24-bit one.
            rshift.eq(Mux(r3_out16, 13, 0) + den),
            # Normalise (left by lz) and denormalise (right by rshift) in one shifter.
            lshift.eq(r3_lz + 40 - rshift),
            nn.eq((r3_mag << lshift)[0:_NN]),
        ]
        kept = nn[_KEEP_LSB:_NN]
        rnd = nn[_KEEP_LSB - 1]
        sticky = nn[0:_KEEP_LSB - 1] != 0
        kept_r = Signal(25)
        base = Signal(10)  # biased exponent field minus 1 for normals, 0 for subnormals
        packed32 = Signal(34)
        packed16 = Signal(21)
        m.d.comb += [
            kept_r.eq(kept + (rnd & (sticky | kept[0]))),
            base.eq(Mux(deficit <= 0, e_msb + Mux(r3_out16, 15 - 1, 127 - 1), 0)),
            # The hidden bit in kept_r adds the missing 1 to the field; a rounding carry out of the
            # significand, or from the largest subnormal to the min normal, lands in the field too.
            packed32.eq((base << 23) + kept_r),
            packed16.eq((base << 10) + kept_r),
        ]
        ovf32 = packed32[23:] >= 0xFF
        ovf16 = packed16[10:] >= 0x1F
        res32 = Signal(32)
        res16 = Signal(16)
        with m.If(r3_nan):
            m.d.comb += [res32.eq(F32_QNAN), res16.eq(F16_QNAN)]
        with m.Elif(r3_inf):
            m.d.comb += [res32.eq(Cat(Const(0xFF << 23, 31), r3_inf_sign)),
                         res16.eq(Cat(Const(0x1F << 10, 15), r3_inf_sign))]
        with m.Elif(r3_mag == 0):
            m.d.comb += [res32.eq(Cat(Const(0, 31), r3_zero_sign)), res16.eq(Cat(Const(0, 15), r3_zero_sign))]
        with m.Else():
            m.d.comb += [
                res32.eq(Cat(Mux(ovf32, 0xFF << 23, packed32[0:31]), r3_sign)),
                res16.eq(Cat(Mux(ovf16, 0x1F << 10, packed16[0:15]), r3_sign)),
            ]

        r4_valid = Signal()
        r4_result = Signal(32, reset_less=True)
        with m.If(en):
            m.d.sync += [
                r4_valid.eq(r3_valid),
                r4_result.eq(Mux(r3_int, r3_int_res, Mux(r3_out16, res16, res32))),
            ]
        m.d.comb += [self.out_valid.eq(r4_valid), self.result.eq(r4_result)]
        return m
