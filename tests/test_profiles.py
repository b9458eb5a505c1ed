"""Profiles (hdl/profiles.py): inconsistent parameters are refused with a message naming them, and
the reduced ``fpga`` profile still holds what the GEMM and GEMV kernels need."""

from __future__ import annotations

import pytest

from hdl.profiles import PROFILES, Profile, ProfileError, get_profile


@pytest.mark.parametrize("bad, needle", [
    (dict(colors=0), "colors=0"),
    (dict(colors=33), "colors=33"),
    (dict(fifo_depth=1), "fifo_depth=1"),
    (dict(sram_kib=6, sram_banks=4), "multiple of sram_banks"),
    (dict(simd_f16=2), "simd_f16=2"),
    (dict(simd_f16=8), "simd_f16=8"),
    (dict(uthreads=1), "micro-threads"),
    (dict(mgmt_color=8), "mgmt_color=8"),
])
def test_inconsistent_profiles_are_refused(bad, needle):
    params = dict(name="x", colors=8, fifo_depth=2, sram_kib=8, sram_banks=4, simd_f16=4)
    params.update(bad)
    with pytest.raises(ProfileError, match=needle):
        Profile(**params)


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError) as e:
        get_profile("nope")
    for name in PROFILES:
        assert name in str(e.value)


def test_fpga_profile_holds_the_kernels_colors():
    from sdk.kernels.gemm import CA, CB, CE, CW
    from sdk.kernels.gemv import CX, CY

    p = get_profile("fpga")
    used = {CA, CB, CE, CW, CX, CY}
    assert max(used) < p.colors and p.mgmt_color not in used
