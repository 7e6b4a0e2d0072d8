"""The worker's HTTP layer against untrusted input: API key, body size, JSON depth, image
checks, and what runs off the event loop.

The app is the real one (`inference.api.create_app`) on a real uvicorn server; only the
engine is a stand-in (`standin.py`), so these run in seconds. The same guards on the real
engine: `test_worker_api.py`.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from PIL import Image

from inference import protocol
from inference.api import create_app
from inference.client import InferenceClient, Unauthorized
from inference.config import Settings
from inference.protocol import Limits
from inference.scheduler import RequestClass

from .conftest import ROOT
from .standin import StandinWorker, serve

KEY = "test-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
TEXT_LIMIT = Limits(max_model_len=2048, accepts_images=False).max_body_bytes
HI = [{"role": "user", "content": "hi"}]


def chat(**kw: Any) -> dict[str, Any]:
    return {"messages": HI, "max_tokens": 8, **kw}


@pytest.fixture
def standin() -> StandinWorker:
    return StandinWorker()


@pytest.fixture
def open_url(standin):
    """No key, loopback: the embedded default."""
    with serve(Settings(), standin) as url:
        yield url


@pytest.fixture
def keyed_url(standin):
    with serve(Settings(api_key=KEY), standin) as url:
        yield url


def png(size: tuple[int, int] = (8, 8)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def png_header_only(width: int, height: int) -> str:
    """A PNG that declares width x height pixels but carries almost no data: its size is
    in the header, and decoding it would fail (truncated)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def with_images(*urls: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "What is this?"}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return [{"role": "user", "content": parts}]


async def big_json_body(total: int) -> AsyncIterator[bytes]:
    """A valid chat request of about `total` bytes, sent in 64 KiB chunks (one object
    reused, so the sender allocates nothing)."""
    piece = b"word " * 13_107
    yield b'{"messages": [{"role": "user", "content": "'
    for _ in range(total // len(piece)):
        yield piece
    yield b'"}]}'


# --- body size ------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_body_over_the_limit_is_413_and_never_kept_or_parsed(standin, open_url, declared):
    total = 8 * 1024 * 1024  # 64 times the limit of a 2048-token context
    length = sum([len(c) async for c in big_json_body(total)])
    headers = {"content-type": "application/json"}
    if declared:
        headers["content-length"] = str(length)
    tracemalloc.start()
    try:
        async with httpx.AsyncClient(base_url=open_url, timeout=30) as http:
            response = await http.post(
                "/v1/chat/completions", content=big_json_body(total), headers=headers
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 413
    assert response.json()["error"] == {
        "message": f"request body is larger than {TEXT_LIMIT} bytes",
        "type": "invalid_request_error",
        "code": "payload_too_large",
    }
    assert response.headers["connection"] == "close"
    assert standin.prepared == []
    # Client and server together: the body was never held in memory (it is 8 MiB).
    assert peak < 2 * 1024 * 1024, peak


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's startup and shutdown around the block."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    )
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    await asyncio.sleep(0.01)  # the stand-in engine "boots"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def test_a_lying_content_length_does_not_get_past_the_limit(standin):
    """The byte count decides, not the header: a body that claims 100 bytes and sends
    6 MiB (as a proxy or a broken server could pass on) is refused and not kept."""
    app = create_app(Settings(), worker_factory=lambda _: asyncio.sleep(0, standin))
    chunk = b"x" * 65_536
    chunks_left = 96
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal chunks_left
        if chunks_left == 0:
            await asyncio.sleep(3600)  # the client waits for its answer
        chunks_left -= 1
        return {"type": "http.request", "body": chunk, "more_body": chunks_left > 0}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8100),
    }
    async with lifespan(app):
        tracemalloc.start()
        try:
            await app(scope, receive, send)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "payload_too_large"
    assert standin.prepared == []
    assert peak < 1024 * 1024, peak


async def test_text_beside_images_has_the_text_limit_on_a_multimodal_model():
    """Images' base64 gets its own allowance; text does not ride on it to the tokenizer."""
    worker = StandinWorker(multimodal=True)
    too_much_text = with_images(png())
    too_much_text[0]["content"][0]["text"] = "word " * (TEXT_LIMIT // 5 + 1)
    with serve(Settings(), worker) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            refused = await http.post("/v1/chat/completions", json=chat(messages=too_much_text))
            big_image = await http.post(
                "/v1/chat/completions", json=chat(messages=with_images(png((1500, 1500))))
            )

    assert refused.status_code == 413
    assert refused.json()["error"]["message"].startswith("request has ")
    assert big_image.status_code == 200, big_image.text
    assert len(worker.prepared) == 1
    assert worker.prepared[0].images[0].size == (1500, 1500)


# --- event loop -----------------------------------------------------------------------


async def test_prompts_are_rendered_and_tokenised_off_the_event_loop(standin, open_url):
    standin.prepare_s = 2.0  # a long prompt's chat template and tokenizer
    async with httpx.AsyncClient(base_url=open_url, timeout=30) as http:
        slow = asyncio.ensure_future(http.post("/v1/chat/completions", json=chat()))
        assert await asyncio.to_thread(standin.preparing.wait, 10)
        await asyncio.sleep(0.1)  # prepare() is blocking its thread (or the event loop)
        started = time.perf_counter()
        health = await http.get("/health")
        health_s = time.perf_counter() - started
        response = await slow

    assert health.status_code == 200
    assert health_s < 1.0, f"/health took {health_s:.2f}s while a prompt was tokenised"
    assert response.status_code == 200
    assert standin.prepare_threads[0].startswith("inference-prepare")


# --- JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 5_000, 60_000])
async def test_deeply_nested_json_is_400_not_500(standin, open_url, depth):
    raw = b'{"messages": [{"role": "user", "content": "hi"}], "x": '
    raw += b"[" * depth + b"]" * depth + b"}"
    async with httpx.AsyncClient(base_url=open_url, timeout=30) as http:
        response = await http.post(
            "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
        )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "request body nests arrays/objects deeper than 64 levels",
        "type": "invalid_request_error",
        "code": "bad_request",
    }
    assert standin.prepared == []


async def test_nesting_within_the_limit_is_accepted(standin, open_url):
    nested: Any = []
    for _ in range(60):
        nested = [nested]
    async with httpx.AsyncClient(base_url=open_url, timeout=30) as http:
        response = await http.post("/v1/chat/completions", json=chat(x=nested))

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "hello world"


# --- images ---------------------------------------------------------------------------


async def test_images_on_a_text_only_model_are_refused_before_decoding(
    standin, open_url, monkeypatch
):
    def must_not_decode(*args: Any) -> None:
        raise AssertionError("an image was decoded for a text-only model")

    monkeypatch.setattr(protocol, "decode_image", must_not_decode)
    async with httpx.AsyncClient(base_url=open_url, timeout=30) as http:
        response = await http.post(
            "/v1/chat/completions", json=chat(messages=with_images(*[png()] * 4))
        )

    assert response.status_code == 400
    assert "does not accept images" in response.json()["error"]["message"]
    assert standin.prepared == []


@pytest.mark.parametrize(
    ("size", "message"),
    [
        # Above the cap: our check on the header.
        ((5_000, 5_000), "image 1: more than 16777216 pixels; scale it down (it is 5000x5000)"),
        # Far above (over twice Pillow's own cap of ~89 MP): Pillow refuses at open.
        ((60_000, 60_000), "image 1: more than 16777216 pixels; scale it down"),
    ],
)
async def test_image_pixels_are_checked_from_the_header_before_decoding(size, message):
    worker = StandinWorker(multimodal=True)
    with serve(Settings(), worker) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            started = time.perf_counter()
            response = await http.post(
                "/v1/chat/completions", json=chat(messages=with_images(png_header_only(*size)))
            )
            elapsed = time.perf_counter() - started

    assert response.status_code == 400
    # A decode of the truncated data would have said "not a decodable image" instead.
    assert response.json()["error"]["message"] == message
    assert worker.prepared == []
    assert elapsed < 2.0


# --- API key --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
        ("GET", "/v1/load"),
        ("GET", "/ready"),
        ("GET", "/metrics"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789abc"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY}x"},
    ],
    ids=["none", "wrong", "not-bearer", "longer"],
)
async def test_with_a_key_configured_every_route_but_health_needs_it(
    standin, keyed_url, method, path, headers
):
    payload = chat(max_tokens=2000, ignore_eos=True, exocortex={"class": "voice"})
    async with httpx.AsyncClient(base_url=keyed_url, timeout=30) as http:
        response = await http.request(
            method, path, json=payload if method == "POST" else None, headers=headers
        )
        health = await http.get("/health")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert standin.prepared == []
    assert health.status_code == 200


@pytest.mark.parametrize("path", ["/v1/models", "/v1/load", "/ready", "/metrics"])
async def test_the_key_opens_every_route(keyed_url, path):
    async with httpx.AsyncClient(base_url=keyed_url, timeout=30, headers=AUTH) as http:
        response = await http.get(path)

    assert response.status_code == 200


async def test_only_a_caller_with_the_key_sets_class_and_tenant(standin, keyed_url):
    request = chat(exocortex={"class": "grading", "tenant": "school-9"})
    async with httpx.AsyncClient(base_url=keyed_url, timeout=30) as http:
        refused = await http.post("/v1/chat/completions", json=request)
        served = await http.post("/v1/chat/completions", json=request, headers=AUTH)

    assert refused.status_code == 401
    assert served.status_code == 200
    assert [(c.request_class, c.tenant) for c in standin.prepared] == [
        (RequestClass.GRADING, "school-9")
    ]


async def test_voice_requests_are_capped_even_with_the_key(standin, keyed_url):
    """The attack: 2,000 tokens past EOS at the top priority."""
    async with httpx.AsyncClient(base_url=keyed_url, timeout=30, headers=AUTH) as http:
        long_voice = await http.post(
            "/v1/chat/completions", json=chat(max_tokens=2000, exocortex={"class": "voice"})
        )
        eos_voice = await http.post(
            "/v1/chat/completions",
            json=chat(max_tokens=100, ignore_eos=True, exocortex={"class": "voice"}),
        )
        default_voice = await http.post(
            "/v1/chat/completions", json={"messages": HI, "exocortex": {"class": "voice"}}
        )

    assert long_voice.status_code == 400
    assert long_voice.json()["error"]["message"] == (
        "'max_tokens' must be between 1 and 256 for voice requests, got 2000"
    )
    assert eos_voice.status_code == 400
    assert eos_voice.json()["error"]["message"] == "'ignore_eos' is not allowed for voice requests"
    assert default_voice.status_code == 200
    assert [c.max_tokens for c in standin.prepared] == [256]


async def test_without_a_key_on_loopback_every_caller_is_served(standin, open_url):
    async with httpx.AsyncClient(base_url=open_url, timeout=30) as http:
        response = await http.post(
            "/v1/chat/completions", json=chat(exocortex={"class": "voice", "tenant": "t"})
        )
        metrics = await http.get("/metrics")

    assert response.status_code == 200
    assert metrics.status_code == 200
    assert standin.prepared[0].request_class is RequestClass.VOICE


async def test_the_client_sends_the_key(keyed_url):
    async with InferenceClient(keyed_url, api_key=KEY) as client:
        completion = await client.complete(HI, request_class="grading", tenant="school-1")
        async with client.stream_chat(HI, session="s-1") as stream:
            streamed = "".join([piece async for piece in stream])
        health = await client.health()
    async with InferenceClient(keyed_url) as keyless:
        with pytest.raises(Unauthorized, match="API key"):
            await keyless.complete(HI)

    assert completion.text == "hello world"
    assert streamed == "hello world"
    assert health[keyed_url]["ok"] is True
    assert set(health[keyed_url]["load"]) == {"voice", "chat", "grading", "authoring"}


async def test_django_sends_its_inference_api_key(keyed_url, settings):
    """common.inference.inference_client() passes settings.INFERENCE_API_KEY."""
    from common.inference import inference_client

    settings.INFERENCE_URLS = [keyed_url]
    settings.INFERENCE_API_KEY = KEY
    async with inference_client() as client:
        completion = await client.complete(HI, request_class="grading")
    settings.INFERENCE_API_KEY = ""
    async with inference_client() as client:
        with pytest.raises(Unauthorized):
            await client.complete(HI)

    assert completion.text == "hello world"


def test_the_worker_refuses_to_start_on_a_public_address_without_a_key():
    env = {**os.environ, "INFERENCE_HOST": "0.0.0.0", "INFERENCE_API_KEY": ""}  # noqa: S104
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "inference", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "INFERENCE_API_KEY is required when INFERENCE_HOST (0.0.0.0)" in result.stderr
    assert time.perf_counter() - started < 30  # it stopped before loading any engine
