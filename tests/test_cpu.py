"""CPU settings: MKL's AVX2 path is switched on for AMD processors only, never over the user's."""

import pytest

from mnist.cpu import MKL_SWITCH, cpu_flags, use_fast_mkl_path

AMD = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 fma avx512f
"""
INTEL = AMD.replace("AuthenticAMD", "GenuineIntel").replace("AMD EPYC", "Intel Xeon")
OLD_AMD = AMD.replace(" avx2", "")


@pytest.mark.parametrize("cpuinfo, switched", [(AMD, True), (INTEL, False), (OLD_AMD, False)])
def test_the_switch_is_set_on_amd_processors_with_avx2(tmp_path, cpuinfo, switched):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    env = {}
    assert use_fast_mkl_path(env, str(path)) is switched
    assert env == ({MKL_SWITCH: "5"} if switched else {})


def test_a_value_the_user_set_is_kept(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(AMD)
    for value in ("", "4"):
        env = {MKL_SWITCH: value}
        assert use_fast_mkl_path(env, str(path)) is False
        assert env == {MKL_SWITCH: value}


def test_no_cpuinfo_changes_nothing(tmp_path):
    env = {}
    assert cpu_flags(str(tmp_path / "missing")) == ("", set())
    assert use_fast_mkl_path(env, str(tmp_path / "missing")) is False and env == {}
