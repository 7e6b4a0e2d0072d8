"""What the machine can do fast, for choices vLLM leaves to us.

vLLM's CPU backend runs in bfloat16 whatever the processor: on x86 chips without native
bf16 arithmetic (no AVX512-BF16 or AMX, e.g. AMD Zen 2/3 or older Intel) every matrix
product is emulated and decoding is about ten times slower than in float32 (measured on a
2-core AMD EPYC with SmolLM2-135M: 25 against 213 tokens/s at 96 sequences). So
`INFERENCE_DTYPE=auto` means: float32 on such CPUs, bfloat16 on CPUs that have it, and
vLLM's own choice (the model's dtype) on a GPU.
"""

from __future__ import annotations

from pathlib import Path

# /proc/cpuinfo flags (x86) or features (aarch64) that mean native bf16 matrix arithmetic.
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The processor's feature flags, from /proc/cpuinfo text (read it when not given)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return frozenset(flags)


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    return bool(cpu_flags(cpuinfo) & _BF16_FLAGS)


def resolve_dtype(requested: str, *, on_cpu: bool, cpuinfo: str | None = None) -> str:
    """The dtype to give vLLM for INFERENCE_DTYPE=`requested` (see the module docstring)."""
    requested = requested.strip().lower() or "auto"
    if requested != "auto" or not on_cpu:
        return requested
    return "bfloat16" if cpu_has_native_bf16(cpuinfo) else "float32"
