"""Parse and validate OpenAI-style chat requests; format OpenAI-style responses.

Pure functions, no engine: everything a client can get wrong is caught here and raised
as `BadRequest`, before the request reaches the scheduler, so bad input never disturbs
other requests. Scheduling fields travel in an `exocortex` object in the body:

    {"exocortex": {"class": "chat", "tenant": "school-7", "session": "s-123",
                   "deadline_ms": 5000}}
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from inference.errors import BadRequest
from inference.scheduler import RequestClass

_ROLES = {"system", "user", "assistant"}
_MAX_STOP = 4


@dataclass(frozen=True)
class Limits:
    """The subset of settings that validation needs (kept small so tests build it)."""

    max_tokens_limit: int = 4096
    default_max_tokens: int = 512
    max_images: int = 4
    max_image_bytes: int = 10 * 1024 * 1024


@dataclass
class ChatRequest:
    """A validated chat request. `messages` are ready for the chat template: content is
    a string, or (only when images are present) a list of text/image parts."""

    messages: list[dict[str, Any]]
    images: list[Image.Image]
    stream: bool
    include_usage: bool
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: list[str]
    json_schema: dict[str, Any] | None
    json_object: bool
    ignore_eos: bool
    min_tokens: int
    request_class: RequestClass
    tenant: str
    session: str | None
    deadline_ms: int | None
    model: str | None
    request_id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BadRequest(message)


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    _require(
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
        f"'{key}' must be a number",
    )
    _require(lo <= value <= hi, f"'{key}' must be between {lo} and {hi}, got {value}")
    return float(value)


def _integer(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    _require(isinstance(value, int) and not isinstance(value, bool), f"'{key}' must be an integer")
    return int(value)


def decode_image(url: str, index: int, max_bytes: int) -> Image.Image:
    """Decode a `data:image/...;base64,` URL into an RGB image, or raise BadRequest.

    Only data: URLs are accepted: the worker runs offline and must not fetch URLs a
    client hands it.
    """
    _require(
        url.startswith("data:"),
        f"image {index}: only data: URLs are accepted (the worker does not fetch URLs)",
    )
    header, sep, payload = url.partition(",")
    _require(bool(sep) and header.endswith(";base64"), f"image {index}: expected base64 data URL")
    _require(len(payload) <= max_bytes * 4 // 3 + 4, f"image {index}: larger than {max_bytes} B")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"image {index}: invalid base64") from None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise BadRequest(f"image {index}: not a decodable image") from None


def _parse_messages(raw: Any, limits: Limits) -> tuple[list[dict[str, Any]], list[Image.Image]]:
    _require(isinstance(raw, list) and len(raw) > 0, "'messages' must be a non-empty list")
    messages: list[dict[str, Any]] = []
    image_urls: list[str] = []
    for i, msg in enumerate(raw):
        _require(isinstance(msg, dict), f"messages[{i}] must be an object")
        role = msg.get("role")
        _require(role in _ROLES, f"messages[{i}].role must be one of {sorted(_ROLES)}")
        content = msg.get("content")
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
            continue
        _require(isinstance(content, list), f"messages[{i}].content must be a string or list")
        parts: list[dict[str, Any]] = []
        for j, part in enumerate(content):
            where = f"messages[{i}].content[{j}]"
            _require(isinstance(part, dict), f"{where} must be an object")
            kind = part.get("type")
            if kind == "text":
                _require(isinstance(part.get("text"), str), f"{where}.text must be a string")
                parts.append({"type": "text", "text": part["text"]})
            elif kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                _require(isinstance(url, str), f"{where}.image_url.url must be a string")
                _require(role == "user", f"{where}: images are only allowed in user messages")
                image_urls.append(url)
                parts.append({"type": "image"})
            else:
                raise BadRequest(f"{where}.type must be 'text' or 'image_url'")
        messages.append({"role": role, "content": parts})

    _require(
        len(image_urls) <= limits.max_images,
        f"too many images: {len(image_urls)} (at most {limits.max_images} per request)",
    )
    images = [decode_image(url, n, limits.max_image_bytes) for n, url in enumerate(image_urls, 1)]
    if not images:
        # Text-only: flatten part lists so every chat template can render them.
        for msg in messages:
            if isinstance(msg["content"], list):
                msg["content"] = "".join(p["text"] for p in msg["content"])
    return messages, images


def _parse_response_format(raw: Any) -> tuple[dict[str, Any] | None, bool]:
    if raw is None:
        return None, False
    _require(isinstance(raw, dict), "'response_format' must be an object")
    kind = raw.get("type")
    if kind == "text":
        return None, False
    if kind == "json_object":
        return None, True
    if kind == "json_schema":
        spec = raw.get("json_schema")
        _require(isinstance(spec, dict), "'response_format.json_schema' must be an object")
        schema = spec.get("schema")
        _require(isinstance(schema, dict), "'response_format.json_schema.schema' must be an object")
        return schema, False
    raise BadRequest("'response_format.type' must be 'text', 'json_object' or 'json_schema'")


def parse_chat_request(body: Any, limits: Limits) -> ChatRequest:
    """Validate a decoded JSON body. Raises BadRequest with a message naming the field."""
    _require(isinstance(body, dict), "request body must be a JSON object")
    messages, images = _parse_messages(body.get("messages"), limits)

    max_tokens = _integer(body, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens")
    if max_tokens is None:
        max_tokens = limits.default_max_tokens
    _require(
        1 <= max_tokens <= limits.max_tokens_limit,
        f"'max_tokens' must be between 1 and {limits.max_tokens_limit}, got {max_tokens}",
    )
    stop = body.get("stop")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    _require(
        isinstance(stop, list) and len(stop) <= _MAX_STOP and all(isinstance(s, str) for s in stop),
        f"'stop' must be a string or a list of at most {_MAX_STOP} strings",
    )
    n = _integer(body, "n")
    _require(n in (None, 1), "'n' other than 1 is not supported")
    min_tokens = _integer(body, "min_tokens") or 0
    _require(0 <= min_tokens <= max_tokens, "'min_tokens' must be between 0 and max_tokens")
    stream = body.get("stream", False)
    _require(isinstance(stream, bool), "'stream' must be a boolean")
    stream_options = body.get("stream_options") or {}
    _require(isinstance(stream_options, dict), "'stream_options' must be an object")
    ignore_eos = body.get("ignore_eos", False)
    _require(isinstance(ignore_eos, bool), "'ignore_eos' must be a boolean")
    model = body.get("model")
    _require(model is None or isinstance(model, str), "'model' must be a string")
    json_schema, json_object = _parse_response_format(body.get("response_format"))

    exo = body.get("exocortex") or {}
    _require(isinstance(exo, dict), "'exocortex' must be an object")
    try:
        request_class = RequestClass.parse(str(exo.get("class", "chat")))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    tenant = exo.get("tenant", "default")
    _require(isinstance(tenant, str) and 0 < len(tenant) <= 128, "'exocortex.tenant' invalid")
    session = exo.get("session")
    _require(session is None or isinstance(session, str), "'exocortex.session' must be a string")
    deadline_ms = _integer(exo, "deadline_ms")
    _require(deadline_ms is None or deadline_ms > 0, "'exocortex.deadline_ms' must be > 0")

    return ChatRequest(
        messages=messages,
        images=images,
        stream=stream,
        include_usage=bool(stream_options.get("include_usage", False)),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 0.7, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 1e-6, 1.0),
        seed=_integer(body, "seed"),
        stop=stop,
        json_schema=json_schema,
        json_object=json_object,
        ignore_eos=ignore_eos,
        min_tokens=min_tokens,
        request_class=request_class,
        tenant=tenant,
        session=session,
        deadline_ms=deadline_ms,
        model=model,
    )


# --- responses -------------------------------------------------------------------------


def error_body(message: str, code: str, status: int) -> dict[str, Any]:
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "code": code}}


def usage_body(prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
    }


def chunk_body(
    request_id: str,
    model: str,
    created: int,
    *,
    content: str | None = None,
    role: str | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    body: dict[str, Any] = {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": []
        if usage is not None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def completion_body(
    request_id: str, model: str, text: str, finish_reason: str | None, usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage,
    }


def sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()
