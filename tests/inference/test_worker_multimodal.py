"""The real worker (HTTP server + vLLM CPU engine) on a tiny random-weight vision-language
model (Idefics3, built by `multimodal.py`): images travel through vLLM's multimodal
processing, vision encoder and prefix cache, not just through our request parsing."""

from __future__ import annotations

import base64
import io
import json
import random
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from .conftest import TINY_WORKER_ENV, start_worker, stop_worker
from .test_worker_api import get_metrics, metric, read_sse

pytestmark = pytest.mark.vllm

MAX_IMAGES = 2
MAX_IMAGE_PIXELS = 1_000_000
MAX_MODEL_LEN = 512
QUESTION = "What is in this picture?"


@pytest.fixture(scope="module")
def vlm_worker(tiny_vlm, tmp_path_factory):
    log = tmp_path_factory.mktemp("vlm-worker-log") / "worker.log"
    env = {
        **TINY_WORKER_ENV,  # one batch slot, so a chat request wants to preempt grading
        "INFERENCE_MODEL": str(tiny_vlm.path),
        "INFERENCE_MODEL_NAME": "tiny-vlm",
        "INFERENCE_DTYPE": "float32",
        "INFERENCE_MAX_MODEL_LEN": str(MAX_MODEL_LEN),
        "INFERENCE_MAX_TOKENS_LIMIT": str(MAX_MODEL_LEN),
        "INFERENCE_MAX_IMAGES": str(MAX_IMAGES),
        "INFERENCE_MAX_IMAGE_PIXELS": str(MAX_IMAGE_PIXELS),
    }
    running = start_worker(env, log)
    yield running
    stop_worker(running)


@pytest.fixture
async def http(vlm_worker):
    async with httpx.AsyncClient(
        base_url=vlm_worker.url, timeout=60, headers=vlm_worker.headers
    ) as client:
        yield client


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def png(size: tuple[int, int] = (96, 48), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def question(*images: bytes, text: str = QUESTION, system: str | None = None) -> list[dict]:
    """One user message: the text, then one image part per PNG (OpenAI format)."""
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": data_url(raw)}} for raw in images]
    messages: list[dict[str, Any]] = [{"role": "user", "content": parts}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return messages


def body(messages: list[dict], **kw: Any) -> dict[str, Any]:
    return {"messages": messages, "max_tokens": 8, "temperature": 0.0, "ignore_eos": True, **kw}


async def complete(http: httpx.AsyncClient, request: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/chat/completions", json=request)
    assert response.status_code == 200, response.text
    return response.json()


async def test_worker_serves_the_multimodal_model(http):
    model = (await http.get("/v1/models")).json()["data"][0]
    assert (model["id"], model["accepts_images"]) == ("tiny-vlm", True)
    assert (await http.get("/ready")).status_code == 200


@pytest.mark.parametrize("n_images", [1, MAX_IMAGES])
async def test_images_are_expanded_into_image_tokens_by_vllm(http, tiny_vlm, n_images):
    """usage.prompt_tokens grows by exactly the image tokens the model's processor makes
    of each image: the images went through vLLM's multimodal processing, not dropped."""
    colors = ["red", "blue", "green"]
    images = [png((96 + 16 * i, 48), colors[i]) for i in range(n_images)]

    plain = await complete(http, body(question()))
    answer = await complete(http, body(question(*images)))

    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["choices"][0]["message"]["content"]
    assert answer["usage"]["completion_tokens"] == 8
    added = answer["usage"]["prompt_tokens"] - plain["usage"]["prompt_tokens"]
    assert added == n_images * tiny_vlm.tokens_per_image


async def test_streamed_image_request_follows_openai_chunk_format(http, tiny_vlm):
    plain = await complete(http, body(question()))
    request = body(
        question(png((40, 120), "purple")),
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    async with http.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200
        events = await read_sse(response)

    assert events[-1] == "[DONE]"
    chunks = [e for e in events[:-1] if isinstance(e, dict)]
    content = [c for c in chunks if c["choices"]]
    assert content[0]["choices"][0]["delta"]["role"] == "assistant"
    assert content[-1]["choices"][0]["finish_reason"] == "length"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in content)
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens"] == 16
    assert usage["prompt_tokens"] == plain["usage"]["prompt_tokens"] + tiny_vlm.tokens_per_image


async def test_prefix_cache_tells_images_apart(http):
    """A repeated request hits the prefix cache past its image; the same text with another
    image must not: its cache hit stops before the image (else it would describe the
    wrong picture)."""
    system = "You describe pictures for pupils. " * 30 + "Session 1f3a."
    tail = "Answer in one short sentence, naming the main colour you see. " * 8

    # Prompt tokens up to and including the image (and the assistant header after it).
    messages = question(png(color="red"), text="Look:", system=system)
    up_to_image = (await complete(http, body(messages)))["usage"]["prompt_tokens"]
    messages[1]["content"].append({"type": "text", "text": tail})
    first = await complete(http, body(messages))
    again = await complete(http, body(messages))
    messages[1]["content"][1]["image_url"]["url"] = data_url(png(color="blue"))
    other = await complete(http, body(messages))

    cached = {
        name: r["usage"]["prompt_tokens_details"]["cached_tokens"]
        for name, r in (("first", first), ("again", again), ("other", other))
    }
    assert cached["again"] > up_to_image, cached
    assert 0 < cached["other"] < up_to_image, cached


async def test_too_many_images_is_400(http):
    response = await http.post(
        "/v1/chat/completions", json=body(question(*[png()] * (MAX_IMAGES + 1)))
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == (
        f"too many images: {MAX_IMAGES + 1} (at most {MAX_IMAGES} per request)"
    )


UNDECODABLE = "image 2: not a decodable image (PNG, JPEG, WEBP, GIF)"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(random.Random(0).randbytes(512), UNDECODABLE, id="random-bytes"),
        pytest.param(png()[:60], UNDECODABLE, id="truncated-png"),
        pytest.param(
            png((1000, 1001)),
            f"image 2: more than {MAX_IMAGE_PIXELS} pixels; scale it down (it is 1000x1001)",
            id="over-the-pixel-cap",
        ),
    ],
)
async def test_undecodable_image_is_400_and_the_worker_keeps_serving(http, raw, message):
    request = body(question(png(color="yellow")), max_tokens=40, stream=True)
    async with http.stream("POST", "/v1/chat/completions", json=request) as stream:
        assert stream.status_code == 200
        bad = await http.post("/v1/chat/completions", json=body(question(png(), raw)))
        events = await read_sse(stream)

    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == message
    assert events[-1] == "[DONE]"
    finish = [e["choices"][0]["finish_reason"] for e in events[:-1] if isinstance(e, dict)]
    assert finish[-1] == "length"
    after = await complete(http, body(question(png(color="orange"))))
    assert after["usage"]["completion_tokens"] == 8


async def test_image_tokens_count_against_the_context_limit(http, tiny_vlm):
    """Text that fits the context but not once its image is expanded: a clean 400."""
    plain = (await complete(http, body(question(text="word " * 100))))["usage"]["prompt_tokens"]
    per_word = (await complete(http, body(question(text="word " * 200))))["usage"][
        "prompt_tokens"
    ] - plain
    assert per_word == 100  # one token per " word"
    # The text prompt (with one placeholder) plus max_tokens=1 fits; expanded, it does not.
    words = 100 + (MAX_MODEL_LEN - 3 - plain)
    request = body(question(png(), text="word " * words), max_tokens=1)

    response = await http.post("/v1/chat/completions", json=request)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert re.search("maximum model length|context limit", error["message"]), error
    assert (await http.get("/ready")).status_code == 200


async def test_image_request_is_not_preempted(http):
    """Images make a request non-preemptible (its state cannot be rebuilt from tokens):
    a grading request with an image keeps the only batch slot while a chat runs."""
    before = await get_metrics(http)
    grading = body(
        question(png()),
        max_tokens=200,
        stream=True,
        stream_options={"include_usage": True},
        exocortex={"class": "grading"},
    )
    async with http.stream("POST", "/v1/chat/completions", json=grading) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        async for line in lines:
            if line.startswith("data: {"):
                break  # the grading request is generating
        chat = await complete(http, body(question(png(color="blue"))))
        events = [json.loads(line[6:]) async for line in lines if line.startswith("data: {")]

    assert chat["usage"]["completion_tokens"] == 8
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert events[-1]["usage"]["completion_tokens"] == 200
    text = await get_metrics(http)
    preempted = metric(text, "inference_preemptions_total", **{"class": "grading"}) - metric(
        before, "inference_preemptions_total", **{"class": "grading"}
    )
    assert preempted == 0


@pytest.mark.django_db(transaction=True)
async def test_a_students_photo_reaches_the_vision_model_through_the_tutor(vlm_worker, settings):
    """The tutor's whole photo path on the real multimodal worker: the capability check,
    the upload checks, the image in the prompt (a 400 from the worker would end in
    reply.error), and a finished reply."""
    from channels.db import database_sync_to_async

    from tests.tutor.conftest import frames_until, open_exercise_world, tutor_socket
    from tests.tutor.test_photos import jpeg_with_gps
    from tutor import photos, services

    settings.INFERENCE_URLS = [vlm_worker.url]
    settings.INFERENCE_API_KEY = vlm_worker.api_key
    settings.TUTOR_MAX_TOKENS = 8
    settings.TUTOR_PHOTO_MODEL_MAX_SIDE = 256

    def store():
        world, _presentation = open_exercise_world()
        session = services.session_for_lesson(learner=world.student, lesson=world.lesson)
        return world, photos.photo_add(session=session, data=jpeg_with_gps(size=(640, 480)))

    world, photo = await database_sync_to_async(store)()
    socket, connected, _ = await tutor_socket(world)
    assert connected
    await socket.send_json_to({"type": "message.send", "text": "", "photo_id": photo.id})
    frames = await frames_until(socket, "reply.done", wait_s=120)
    await socket.disconnect()
    assert "reply.error" not in [f["type"] for f in frames]
    assert frames[0]["turn"]["photo_url"].endswith(f"/photos/{photo.id}/")
    assert frames[-1]["turn"]["status"] in ("complete", "guarded")
