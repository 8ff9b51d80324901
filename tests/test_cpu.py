"""CPU settings: MKL's AVX2 path is switched on for AMD processors only, never over the user's;
freed memory is kept for reuse."""

import os
import subprocess
import sys

import pytest

from mnist.cpu import MKL_SWITCH, cpu_flags, use_fast_mkl_path

from conftest import REPO, run

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


FAULTS = """
import resource, sys
import numpy as np
from mnist.cpu import keep_freed_memory

def faults():  # minor page faults while making and freeing 8 arrays of 1 MiB, 50 times
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        arrays = [np.ones(1 << 18, dtype=np.float32) for _ in range(8)]
        del arrays
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

plain = faults()
switched = keep_freed_memory()
print(plain, switched, faults())
"""


def test_freed_memory_is_reused_instead_of_faulted_in_again():
    result = run([sys.executable, "-c", FAULTS], env={"MALLOC_MMAP_THRESHOLD_": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1] == "False"  # the user's own setting is left alone

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    result = subprocess.run([sys.executable, "-c", FAULTS], env={**env, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    plain, switched, kept = result.stdout.split()
    assert switched == "True"
    assert int(plain) > 10000 and int(kept) < int(plain) / 20, (plain, kept)
