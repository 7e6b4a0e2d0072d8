"""dtype choice from the processor's features (pure, no engine)."""

from __future__ import annotations

import pytest

from inference.config import Settings
from inference.hardware import cpu_flags, cpu_has_native_bf16, resolve_dtype

ZEN2 = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
    "flags\t\t: fpu sse sse2 avx fma avx2 bmi2 sha_ni\n\n"
    "processor\t: 1\nflags\t\t: fpu sse sse2 avx fma avx2 bmi2 sha_ni\n"
)
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_flags_are_read_from_x86_and_arm_cpuinfo() -> None:
    assert "avx2" in cpu_flags(ZEN2)
    assert "bf16" in cpu_flags(GRAVITON3)
    assert cpu_flags("") == frozenset()


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(ZEN2, False), (SAPPHIRE_RAPIDS, True), (GRAVITON3, True)]
)
def test_native_bf16_detection(cpuinfo: str, native: bool) -> None:
    assert cpu_has_native_bf16(cpuinfo) is native


def test_auto_is_float32_on_a_cpu_without_bf16_and_bfloat16_with_it() -> None:
    assert resolve_dtype("auto", on_cpu=True, cpuinfo=ZEN2) == "float32"
    assert resolve_dtype("auto", on_cpu=True, cpuinfo=SAPPHIRE_RAPIDS) == "bfloat16"


def test_auto_is_left_to_vllm_on_a_gpu_and_explicit_choices_are_kept() -> None:
    assert resolve_dtype("auto", on_cpu=False, cpuinfo=ZEN2) == "auto"
    assert resolve_dtype("bfloat16", on_cpu=True, cpuinfo=ZEN2) == "bfloat16"
    assert resolve_dtype(" Float16 ", on_cpu=True, cpuinfo=ZEN2) == "float16"


def test_default_setting_is_auto() -> None:
    assert Settings.from_env({}).dtype == "auto"
    assert Settings.from_env({"INFERENCE_DTYPE": "float32"}).dtype == "float32"
