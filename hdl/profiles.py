"""Tessera configuration profiles.

A profile fixes every figure of a build that the architecture leaves as a parameter: the number of
routable colors, the router's per-color buffer depth, and (for the PE) SRAM size, banks and SIMD width.

Interface:
    Profile            frozen dataclass of the figures
    PROFILES           name -> Profile
    get_profile(name)  look a profile up, with a clear error for unknown names

``wse`` mirrors the public WSE-2 figures (24 colors, 48 KiB in 8 banks, SIMD-4 FP16). ``small``
serves the fast regression; ``fpga`` is a reduced ``small`` for ECP5 bitstreams.
See docs/configuration.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .wavelet import COLOR_BITS

__all__ = ["Profile", "PROFILES", "get_profile", "ProfileError"]


class ProfileError(ValueError):
    """An unknown profile name or an inconsistent profile."""


@dataclass(frozen=True)
class Profile:
    name: str
    colors: int  # routable colors (virtual channels) per link
    fifo_depth: int  # wavelets buffered per (input port, color); 2 sustains one wavelet per cycle
    sram_kib: int  # SRAM per PE (used by the PE)
    sram_banks: int  # single-ported banks
    simd_f16: int  # f16 lanes per FMAC (f32 runs at half this width); the PE implements 4
    imem_words: int = 1024  # 32-bit instruction memory words (docs/isa.md)
    uthreads: int = 2  # micro-threads for asynchronous vector ops
    # The management color: reserved for loading through the mesh edge (docs/mesh.md). Its route
    # comes out of reset as RX {W}, TX {E, RAMP}. None = the last color.
    mgmt_color: int | None = None
    # The tiles' activity counters (hdl/probe.py: about 1,300 flip-flops a tile). Without them the
    # probe's counters read 0; the status snapshot and the trace events remain.
    counters: bool = True

    def __post_init__(self):
        if not 1 <= self.colors <= 2**COLOR_BITS:
            raise ProfileError(f"profile {self.name!r}: colors={self.colors} must be in 1..{2**COLOR_BITS}")
        if self.fifo_depth < 2:
            raise ProfileError(
                f"profile {self.name!r}: fifo_depth={self.fifo_depth} must be >= 2 "
                "(a depth of 1 halves link throughput)"
            )
        if self.sram_banks < 1 or self.sram_kib % self.sram_banks:
            raise ProfileError(f"profile {self.name!r}: sram_kib must be a multiple of sram_banks")
        if self.simd_f16 != 4:
            # A 64-bit SRAM row holds 4 f16 elements, so the vector engine is built for 4 lanes; with
            # 2 it elaborates but its programs can hang (constrained-random PE programs time out).
            raise ProfileError(f"profile {self.name!r}: simd_f16={self.simd_f16}: the PE implements "
                               "4 f16 lanes (2 f32) only")
        if self.mgmt_color is None:
            object.__setattr__(self, "mgmt_color", self.colors - 1)
        if not 0 <= self.mgmt_color < self.colors:
            raise ProfileError(f"profile {self.name!r}: mgmt_color={self.mgmt_color} not in 0..{self.colors - 1}")
        if self.uthreads < 2:
            raise ProfileError(f"profile {self.name!r}: at least 2 micro-threads")

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "small": Profile(name="small", colors=8, fifo_depth=2, sram_kib=8, sram_banks=4, simd_f16=4,
                     imem_words=1024, uthreads=4),
    "wse": Profile(name="wse", colors=24, fifo_depth=2, sram_kib=48, sram_banks=8, simd_f16=4,
                   imem_words=4096, uthreads=8),
    # FPGA builds (docs/fpga.md): the fewest colors the GEMM and GEMV kernels use, half the
    # micro-threads and instruction memory: a smaller PE tile for an ECP5-85F.
    "fpga": Profile(name="fpga", colors=5, fifo_depth=2, sram_kib=8, sram_banks=4, simd_f16=4,
                    imem_words=512, uthreads=2, counters=False),
}


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}") from None
