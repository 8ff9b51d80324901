"""CPU settings: Intel MKL's fast code path on AMD processors, the number of threads, and how
glibc hands out large blocks of memory.

Paddle's CPU wheel does its matrix products (and so its convolutions, which are im2col + GEMM)
with the Intel MKL it ships (``paddle/libs/libmklml_intel.so``). That MKL picks its code path by
the processor's vendor, not by what it can do: on an AMD processor it runs a generic path even
where AVX2 is there. ``MKL_DEBUG_CPU_TYPE=5`` makes it use its AVX2 path. Measured on this
project's AMD EPYC machine, one thread: a [19600 x 500] x [500 x 20] product (the second
convolution of a batch) 28 ms -> 8 ms; the lesson's training loop 1.33x faster
(``benchmarks/train_speed.py`` times it with and without).

MKL reads the variable when it first multiplies, so setting it at import time of this package,
before any training, is enough. We set it only on an AMD processor with AVX2, and never over a
value the user set: ``MKL_DEBUG_CPU_TYPE=`` (empty) keeps MKL's own choice. Newer MKLs ignore the
variable, and on Intel processors it changes nothing.
"""

from __future__ import annotations

import ctypes
import os

MKL_SWITCH = "MKL_DEBUG_CPU_TYPE"


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, set[str]]:
    """The vendor id and the feature flags of the first processor ('' and {} where unknown)."""
    vendor, flags = "", set()
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return vendor, flags


def use_fast_mkl_path(environ=os.environ, cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Set MKL_DEBUG_CPU_TYPE=5 on AMD processors with AVX2 unless the user set it; True if set."""
    if MKL_SWITCH in environ:
        return False
    vendor, flags = cpu_flags(cpuinfo)
    if vendor == "AuthenticAMD" and "avx2" in flags:
        environ[MKL_SWITCH] = "5"
        return True
    return False


def set_threads(threads: int) -> None:
    """The number of threads Paddle's CPU kernels (and MKL) use in this process."""
    import paddle

    if hasattr(paddle, "set_num_threads"):
        paddle.set_num_threads(threads)
    else:  # Paddle 3.x keeps it in the core module
        paddle.base.core.set_num_threads(threads)


MMAP_SWITCH = "MALLOC_MMAP_THRESHOLD_"


def keep_freed_memory(size: int = 64 << 20, environ=os.environ) -> bool:
    """glibc: serve blocks up to ``size`` bytes from the heap and keep what is freed there.

    By default glibc maps every block above 128 KiB afresh from the kernel and unmaps it when
    freed, raising that limit only after a large block is freed. numpy's temporaries in
    ``--distort`` (a few hundred KiB each) then cost page faults on every batch: measured here,
    distorting a batch took 3.4 ms with the oneDNN operator (whose buffers are never freed, so
    the limit never rose) against 1.8 ms with a raised limit (benchmarks/augment_cost.py). The
    picture steps of predict.py and the app (a photo's ink map and its temporaries, 1.5 MiB
    each) gain too: reading a number in a 1200x800 photo took 24.5-30.9 ms without it and
    18.5-24.3 ms with it (medians of three alternate runs; benchmarks/number_speed.py runs both).
    Not over the user's own ``MALLOC_MMAP_THRESHOLD_``; False where it does not apply (a C
    library without ``mallopt``)."""
    if MMAP_SWITCH in environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # Windows: CDLL(None) is a TypeError
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, size)) and bool(mallopt(m_trim_threshold, 2 * size))
