"""The real worker (HTTP server + vLLM CPU engine) on a tiny random-weight model."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import httpx
import jsonschema
import pytest

from inference.client import InferenceClient
from inference.errors import (
    BadRequest,
    DeadlineExceeded,
    InferenceBusy,
    InferenceUnavailable,
    Unauthorized,
)

pytestmark = pytest.mark.vllm

HELLO = [{"role": "user", "content": "Hello, tutor!"}]


def metric(text: str, name: str, **labels: str) -> float:
    """Value of one sample in Prometheus text (0.0 when absent)."""
    label = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(label) + r"\}" if label else "") + r" (\S+)"
    match = re.search("^" + pattern + "$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def get_metrics(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return response.text


@pytest.fixture
async def http(worker):
    async with httpx.AsyncClient(base_url=worker.url, timeout=60, headers=worker.headers) as client:
        yield client


def body(**kw: Any) -> dict[str, Any]:
    return {"messages": HELLO, "max_tokens": 16, "temperature": 0.0, **kw}


async def read_sse(response: httpx.Response) -> list[dict[str, Any] | str]:
    events: list[dict[str, Any] | str] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            data = line[6:]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


async def test_health_models_and_ready(http):
    assert (await http.get("/health")).json() == {"status": "ok", "engine": "up"}
    model = (await http.get("/v1/models")).json()["data"][0]
    assert (model["id"], model["accepts_images"]) == ("tiny-llama", False)
    ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_streaming_follows_openai_chunk_format(http):
    request = body(
        stream=True, max_tokens=24, ignore_eos=True, stream_options={"include_usage": True}
    )
    async with http.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await read_sse(response)

    assert events[-1] == "[DONE]"
    chunks = [e for e in events[:-1] if isinstance(e, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    content_chunks = [c for c in chunks if c["choices"]]
    assert content_chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert content_chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 24
    assert chunks[-1]["usage"]["prompt_tokens"] > 0
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in content_chunks)
    assert text


async def test_non_streaming_completion(http):
    response = await http.post("/v1/chat/completions", json=body(max_tokens=8, ignore_eos=True))

    assert response.status_code == 200
    payload = response.json()
    assert payload["object"] == "chat.completion"
    assert payload["choices"][0]["finish_reason"] == "length"
    assert payload["usage"]["completion_tokens"] == 8


async def test_client_asks_whether_the_model_accepts_images(worker):
    async with InferenceClient(worker.url, api_key=worker.api_key) as client:
        assert await client.accepts_images() is False
    async with InferenceClient("http://127.0.0.1:9", api_key=worker.api_key) as client:
        with pytest.raises(InferenceUnavailable):
            await client.accepts_images()


async def test_structured_output_matches_schema(worker):
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "enum": [0, 1, 2]},
            "verdict": {"type": "string", "enum": ["correct", "partly", "wrong"]},
            "passed": {"type": "boolean"},
        },
        "required": ["score", "verdict", "passed"],
        "additionalProperties": False,
    }
    async with InferenceClient(worker.url, api_key=worker.api_key) as client:
        result = await client.complete(
            [{"role": "user", "content": "Grade: 2 + 2 = 4"}],
            request_class="grading",
            json_schema=schema,
            max_tokens=64,
            temperature=1.0,
        )

    parsed = json.loads(result.text)
    jsonschema.validate(parsed, schema)
    assert result.finish_reason == "stop"


async def test_client_disconnect_aborts_engine_request(http):
    before = await get_metrics(http)
    request = body(stream=True, max_tokens=1500, ignore_eos=True)

    async with http.stream("POST", "/v1/chat/completions", json=request) as response:
        lines = response.aiter_lines()
        received = 0
        async for line in lines:
            if line.startswith("data: {"):
                received += 1
            if received == 3:
                break
    # Leaving the block closed the connection mid-stream.

    for _ in range(100):
        text = await get_metrics(http)
        aborted = metric(text, "inference_engine_aborts_total", reason="cancelled")
        if aborted > metric(before, "inference_engine_aborts_total", reason="cancelled"):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the worker did not abort the engine request")
    # The front end forgot it, and the engine core (after one more step, the readiness
    # probe) reports nothing running or waiting: the request is really gone.
    assert (await http.get("/ready")).status_code == 200
    text = await get_metrics(http)
    assert metric(text, "inference_engine_unfinished_requests") == 0
    assert metric(text, "inference_engine_core_running_requests") == 0
    assert metric(text, "inference_engine_core_waiting_requests") == 0
    assert metric(text, "inference_running", **{"class": "chat"}) == 0
    generated = metric(text, "inference_generated_tokens_total", **{"class": "chat"}) - metric(
        before, "inference_generated_tokens_total", **{"class": "chat"}
    )
    assert generated < 1500


async def _hold_batch_slot(http: httpx.AsyncClient) -> asyncio.Task[None]:
    """Occupy the single batch slot with a long grading request; cancel the task to free it."""
    started = asyncio.Event()

    async def run() -> None:
        request = body(
            stream=True, max_tokens=1500, ignore_eos=True, exocortex={"class": "grading"}
        )
        async with http.stream("POST", "/v1/chat/completions", json=request) as response:
            async for _ in response.aiter_lines():
                started.set()

    task = asyncio.ensure_future(run())
    await asyncio.wait_for(started.wait(), 30)
    return task


async def test_queue_full_answers_429_with_retry_after(http):
    blocker = await _hold_batch_slot(http)
    queued: list[asyncio.Task[httpx.Response]] = []
    try:
        authoring = body(max_tokens=4, exocortex={"class": "authoring", "tenant": "t1"})
        queued = [
            asyncio.ensure_future(http.post("/v1/chat/completions", json=authoring))
            for _ in range(2)
        ]
        for _ in range(100):
            load = (await http.get("/v1/load")).json()
            if load["authoring"]["queued"] == 2:
                break
            await asyncio.sleep(0.05)
        assert load["authoring"]["queued"] == 2
        assert load["authoring"]["estimated_wait_s"] > 0

        rejected = await http.post("/v1/chat/completions", json=authoring)

        assert rejected.status_code == 429
        assert int(rejected.headers["Retry-After"]) >= 1
        assert rejected.json()["error"]["code"] == "queue_full"
        # Interactive traffic is unaffected by the full batch queue.
        chat = await http.post("/v1/chat/completions", json=body(max_tokens=4))
        assert chat.status_code == 200
    finally:
        blocker.cancel()
    results = await asyncio.gather(*queued)
    assert [r.status_code for r in results] == [200, 200]


async def test_client_maps_429_to_inference_busy(worker, http):
    blocker = await _hold_batch_slot(http)
    authoring = body(max_tokens=4, exocortex={"class": "authoring"})
    queued = [
        asyncio.ensure_future(http.post("/v1/chat/completions", json=authoring)) for _ in range(2)
    ]
    try:
        for _ in range(100):
            if (await http.get("/v1/load")).json()["authoring"]["queued"] == 2:
                break
            await asyncio.sleep(0.05)
        async with InferenceClient(worker.url, api_key=worker.api_key) as client:
            with pytest.raises(InferenceBusy) as info:
                await client.complete(HELLO, request_class="authoring", max_tokens=4)
        assert info.value.retry_after >= 1
    finally:
        blocker.cancel()
        await asyncio.gather(*queued)


async def test_deadline_passes_in_queue_and_request_is_rejected(worker, http):
    blocker = await _hold_batch_slot(http)
    try:
        late = body(max_tokens=4, exocortex={"class": "grading", "deadline_ms": 300})
        response = await http.post("/v1/chat/completions", json=late)

        assert response.status_code == 504
        error = response.json()["error"]
        assert error["code"] == "deadline_exceeded"
        assert "300 ms" in error["message"]
        async with InferenceClient(worker.url, api_key=worker.api_key) as client:
            with pytest.raises(DeadlineExceeded):
                await client.complete(HELLO, request_class="grading", deadline_ms=200)
    finally:
        blocker.cancel()
    text = await get_metrics(http)
    assert (
        metric(text, "inference_requests_total", **{"class": "grading", "outcome": "expired"}) >= 2
    )


async def test_chat_preempts_batch_and_batch_still_completes(http):
    """A grading request holding the only batch slot is preempted for a chat request and
    later resumes from its generated prefix: it still delivers exactly max_tokens."""
    before = await get_metrics(http)
    grading = body(max_tokens=300, ignore_eos=True, exocortex={"class": "grading"})
    grading_task = asyncio.ensure_future(http.post("/v1/chat/completions", json=grading))
    for _ in range(200):
        if (await http.get("/v1/load")).json()["grading"]["running"] == 1:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # let it generate some tokens

    chat = await http.post("/v1/chat/completions", json=body(max_tokens=4))
    graded = await grading_task

    assert chat.status_code == 200
    assert graded.status_code == 200
    assert graded.json()["usage"]["completion_tokens"] == 300
    text = await get_metrics(http)
    preempted = metric(text, "inference_preemptions_total", **{"class": "grading"}) - metric(
        before, "inference_preemptions_total", **{"class": "grading"}
    )
    assert preempted >= 1


def _png_data_url() -> str:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _with_images(*urls: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "What is this?"}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return [{"role": "user", "content": parts}]


BAD_INPUTS = [
    pytest.param(b"{not json", "not valid JSON", id="malformed-json"),
    pytest.param(body(exocortex={"class": "bulk"}), "unknown request class", id="unknown-class"),
    pytest.param(
        body(messages=[{"role": "user", "content": "word " * 3000}]),
        "exceed the context limit",
        id="prompt-over-context",
    ),
    pytest.param(body(max_tokens=-5), "'max_tokens' must be between", id="negative-max-tokens"),
    pytest.param(body(max_tokens=10**9), "'max_tokens' must be between", id="huge-max-tokens"),
    pytest.param(
        body(messages=_with_images(*[_png_data_url()] * 5)), "too many images", id="too-many-images"
    ),
    pytest.param(
        body(messages=_with_images(_png_data_url())),
        "does not accept images",
        id="image-on-text-model",
    ),
    pytest.param(body(messages=[]), "'messages' must be a non-empty list", id="no-messages"),
    pytest.param(body(temperature=9), "'temperature' must be between", id="bad-temperature"),
    pytest.param(
        b'{"messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "deeper than 64 levels",
        id="deeply-nested-json",
    ),
    pytest.param(
        body(max_tokens=2000, exocortex={"class": "voice"}),
        "between 1 and 256 for voice requests",
        id="long-voice-request",
    ),
]


@pytest.mark.parametrize(("payload", "message"), BAD_INPUTS)
async def test_bad_input_is_400_and_does_not_disturb_a_running_stream(http, payload, message):
    request = body(stream=True, max_tokens=40, ignore_eos=True)
    async with http.stream("POST", "/v1/chat/completions", json=request) as stream:
        assert stream.status_code == 200
        if isinstance(payload, bytes):
            bad = await http.post(
                "/v1/chat/completions",
                content=payload,
                headers={"content-type": "application/json"},
            )
        else:
            bad = await http.post("/v1/chat/completions", json=payload)
        events = await read_sse(stream)

    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert message in error["message"]
    assert events[-1] == "[DONE]"
    finish = [e["choices"][0]["finish_reason"] for e in events[:-1] if isinstance(e, dict)]
    assert finish[-1] == "length"


async def test_client_raises_bad_request(worker):
    async with InferenceClient(worker.url, api_key=worker.api_key) as client:
        with pytest.raises(BadRequest, match="unknown request class"):
            await client.complete(HELLO, request_class="bulk")


async def test_client_streams_and_fails_over_from_a_dead_worker(worker):
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    async with InferenceClient(
        [dead, worker.url], api_key=worker.api_key, connect_timeout_s=1.0
    ) as client:
        for session in ("s-1", "s-2", "s-3", "s-4"):
            async with client.stream_chat(
                HELLO, session=session, max_tokens=12, ignore_eos=True
            ) as stream:
                text = "".join([piece async for piece in stream])
            assert text
            assert stream.worker == worker.url
            assert stream.finish_reason == "length"
            assert stream.usage["completion_tokens"] == 12
        health = await client.health()
    assert health[dead]["ok"] is False
    assert health[worker.url]["ok"] is True
    assert set(health[worker.url]["load"]) == {"voice", "chat", "grading", "authoring"}


async def test_metrics_expose_queue_ttft_and_prefix_cache(http):
    shared = [{"role": "system", "content": "You are a tutor. " * 40}]
    for question in ("What is 2+2?", "What is 3+3?"):
        messages = [*shared, {"role": "user", "content": question}]
        response = await http.post("/v1/chat/completions", json=body(messages=messages))
        assert response.status_code == 200

    text = await get_metrics(http)

    assert 'inference_queue_depth{class="grading"}' in text
    assert 'inference_estimated_wait_seconds{class="chat"}' in text
    assert metric(text, "inference_ttft_seconds_count", **{"class": "chat"}) >= 2
    assert 'inference_tokens_per_second_bucket{class="chat"' in text
    assert metric(text, "inference_prefix_cache_hits_tokens_total") > 0
    assert 0 < metric(text, "inference_prefix_cache_hit_rate") <= 1


async def test_the_worker_requires_its_api_key(worker, http):
    """The real worker (TINY_WORKER_ENV sets INFERENCE_API_KEY): without the key nothing
    but /health answers, whatever class or tenant the request claims."""
    claim = body(max_tokens=2000, ignore_eos=True, exocortex={"class": "voice", "tenant": "x"})
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as anonymous:
        refused = await anonymous.post("/v1/chat/completions", json=claim)
        metrics = await anonymous.get("/metrics")
        health = await anonymous.get("/health")
    async with InferenceClient(worker.url) as keyless:
        with pytest.raises(Unauthorized):
            await keyless.complete(HELLO, max_tokens=4)

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert metrics.status_code == 401
    assert health.json() == {"status": "ok", "engine": "up"}
    served = await http.post("/v1/chat/completions", json=body(max_tokens=4, ignore_eos=True))
    assert served.status_code == 200
    assert served.json()["usage"]["completion_tokens"] == 4


async def test_oversized_body_is_413_and_does_not_disturb_a_running_stream(http):
    request = body(stream=True, max_tokens=40, ignore_eos=True)
    huge = body(messages=[{"role": "user", "content": "word " * 2_000_000}])  # 10 MB
    async with http.stream("POST", "/v1/chat/completions", json=request) as stream:
        assert stream.status_code == 200
        started = asyncio.get_running_loop().time()
        refused = await http.post("/v1/chat/completions", json=huge)
        refused_s = asyncio.get_running_loop().time() - started
        events = await read_sse(stream)

    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "payload_too_large"
    assert refused_s < 5.0  # tokenising 10 MB took ~10 s on this CPU before the limit
    finish = [e["choices"][0]["finish_reason"] for e in events[:-1] if isinstance(e, dict)]
    assert finish[-1] == "length"
