"""Parse and validate OpenAI-style chat requests; format OpenAI-style responses.

Pure functions, no engine: everything a client can get wrong is caught here and raised
as `BadRequest`, before the request reaches the scheduler, so bad input never disturbs
other requests. Scheduling fields travel in an `exocortex` object in the body:

    {"exocortex": {"class": "chat", "tenant": "school-7", "session": "s-123",
                   "deadline_ms": 5000}}

Untrusted input is checked from the cheapest check to the most expensive one: body size
(before the body is read; `Limits.max_body_bytes`), JSON nesting depth (before
`json.loads`; `load_json_body`), the text beside the images (`check_text_budget`),
every field, whether the model takes images at all, each image's pixel count (from its
header), and only then are images decoded.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from inference.errors import BadRequest, PayloadTooLarge
from inference.scheduler import RequestClass

_ROLES = {"system", "user", "assistant"}
_MAX_STOP = 4

# --- request size --------------------------------------------------------------------
# The body limit is derived from the context window: whatever does not fit into
# `max_model_len` tokens is refused anyway, so there is no point reading, parsing and
# tokenising more. One token of prompt is a few bytes of text (about 4 for English); JSON
# escaping makes a character up to 6 bytes ("\u00e9") or 12 for one outside the BMP, and
# the longest tokens of common vocabularies are runs of 16-32 spaces or symbols. So
# BODY_BYTES_PER_TOKEN = 32 bytes per token of context is more than any real prompt
# needs, and BODY_SLACK_BYTES covers what is not prompt text: JSON structure, a
# response_format schema, stop strings. 2048 tokens -> 128 KiB, 8192 -> 320 KiB.
BODY_BYTES_PER_TOKEN = 32
BODY_SLACK_BYTES = 64 * 1024
# Images travel as base64 data URLs (4 characters per 3 bytes) and are allowed on top of
# the text limit, only on a multimodal model: per image its base64 at INFERENCE_MAX_IMAGE_BYTES
# plus this much for the "data:image/...;base64," header and the JSON of its part.
IMAGE_PART_SLACK_BYTES = 256
# Deepest nesting of arrays/objects in a body. Ours need 5 (messages -> content part ->
# image_url); a response_format schema a dozen or so. json.loads recurses per level and
# fails with RecursionError (a 500) around a thousand levels, so the depth is checked on
# the raw bytes first.
MAX_JSON_DEPTH = 64
# Image formats we decode. Pillow can open many more, some through external programs
# (EPS runs Ghostscript); a tutor needs photos and screenshots.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")


@dataclass(frozen=True)
class Limits:
    """The subset of settings that validation needs (kept small so tests build it)."""

    max_tokens_limit: int = 4096
    default_max_tokens: int = 512
    max_images: int = 4
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096
    # Largest max_tokens per class; a class not listed gets max_tokens_limit.
    class_max_tokens: Mapping[RequestClass, int] = field(default_factory=dict)
    # False for a text-only model: image parts are refused before anything is decoded.
    accepts_images: bool = True
    max_model_len: int = 2048

    @property
    def max_text_bytes(self) -> int:
        """Bytes a body may spend on everything but image data URLs (see BODY_BYTES_PER_TOKEN)."""
        return self.max_model_len * BODY_BYTES_PER_TOKEN + BODY_SLACK_BYTES

    @property
    def max_body_bytes(self) -> int:
        """Largest request body read at all: the text limit, plus the images' base64 when
        the model accepts images."""
        if not self.accepts_images:
            return self.max_text_bytes
        per_image = 4 * math.ceil(self.max_image_bytes / 3) + IMAGE_PART_SLACK_BYTES
        return self.max_text_bytes + self.max_images * per_image

    def max_tokens_for(self, request_class: RequestClass) -> int:
        return min(
            self.max_tokens_limit, self.class_max_tokens.get(request_class, self.max_tokens_limit)
        )


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_CURLY_AS_SQUARE = bytes.maketrans(b"{}", b"[]")


def load_json_body(raw: bytes, *, max_depth: int, max_structure_bytes: int) -> Any:
    """Decode a UTF-8 JSON body whose arrays/objects nest at most `max_depth` deep.

    The depth is measured on the raw bytes before `json.loads` (which would recurse once
    per level): escapes are dropped, the remaining quotes split strings from structure,
    and the brackets of the structure are reduced innermost pair by innermost pair, one
    level per pass, at most `max_depth` passes. The structure (everything outside strings)
    counts as text, so more than `max_structure_bytes` of it is refused (413) first; that
    also bounds the passes' cost. Raises BadRequest or PayloadTooLarge.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid JSON (it must be UTF-8)") from None
    # Inside a string JSON has escapes, outside it has none: after dropping every `\x`
    # pair, the quotes alternate between opening and closing a string. Where the body is
    # not JSON this view may differ from the parser's, but only after the point where the
    # parser stops with an error, so it never under-counts what the parser would nest.
    structure = b"".join(_ESCAPE.sub(b"", raw).split(b'"')[0::2])
    if len(structure) > max_structure_bytes:
        raise PayloadTooLarge(
            f"request body has {len(structure)} bytes of JSON outside strings; "
            f"the limit is {max_structure_bytes}"
        )
    brackets = structure.translate(_CURLY_AS_SQUARE, _NOT_BRACKET)
    for _ in range(max_depth):
        if not brackets:
            break
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            break  # unmatched brackets left: not JSON
        brackets = reduced
    if b"[]" in brackets:
        raise BadRequest(f"request body nests arrays/objects deeper than {max_depth} levels")
    if brackets:
        raise BadRequest("request body is not valid JSON (unbalanced brackets)")
    try:
        return json.loads(text)
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None


def image_url_chars(body: Any) -> int:
    """Characters in the image data URLs of `body` (not validated: malformed parts count 0)."""
    total = 0
    messages = body.get("messages") if isinstance(body, dict) else None
    for msg in messages if isinstance(messages, list) else ():
        content = msg.get("content") if isinstance(msg, dict) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                if isinstance(url, str):
                    total += len(url)
    return total


def check_text_budget(body: Any, body_bytes: int, limits: Limits) -> None:
    """Refuse (413) a body whose bytes beside its image data URLs exceed the text limit,
    so a multimodal model's image allowance cannot carry megabytes of text to the
    tokenizer. Precondition: `body` was decoded from `body_bytes` bytes."""
    text_bytes = body_bytes - image_url_chars(body)
    if text_bytes > limits.max_text_bytes:
        raise PayloadTooLarge(
            f"request has {text_bytes} bytes besides images; the limit is "
            f"{limits.max_text_bytes} ({limits.max_model_len} tokens of context)"
        )


@dataclass
class Delta:
    """A piece of output. `completion_tokens` is cumulative; usage fields are filled on
    the last delta (the one with `finish_reason`)."""

    text: str
    completion_tokens: int
    finish_reason: str | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0


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


def decode_image(url: str, index: int, max_bytes: int, max_pixels: int) -> Image.Image:
    """Decode a `data:image/...;base64,` URL into an RGB image, or raise BadRequest.

    Only data: URLs are accepted: the worker runs offline and must not fetch URLs a
    client hands it. The pixel count is read from the image header (Pillow opens lazily)
    and checked before the pixels are decoded: a 1 MB PNG can hold gigabytes of pixels.
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
    too_many_pixels = f"image {index}: more than {max_pixels} pixels; scale it down"
    try:
        with Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS) as img:
            width, height = img.size
            _require(width * height <= max_pixels, f"{too_many_pixels} (it is {width}x{height})")
            img.load()
            return img.convert("RGB")
    except Image.DecompressionBombError:
        raise BadRequest(too_many_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise BadRequest(
            f"image {index}: not a decodable image ({', '.join(IMAGE_FORMATS)})"
        ) from None


def _parse_messages(raw: Any, limits: Limits) -> tuple[list[dict[str, Any]], list[str]]:
    """Validated messages and the image URLs they carry (not decoded yet)."""
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
    _require(
        limits.accepts_images or not image_urls,
        "this model does not accept images; send text only or configure a multimodal "
        "model (INFERENCE_MODEL)",
    )
    if not image_urls:
        # Text-only: flatten part lists so every chat template can render them.
        for msg in messages:
            if isinstance(msg["content"], list):
                msg["content"] = "".join(p["text"] for p in msg["content"])
    return messages, image_urls


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


def parse_chat_body(raw: bytes, limits: Limits) -> ChatRequest:
    """Decode and validate a request body already read within `limits.max_body_bytes`:
    JSON depth, the text beside the images, every field, then the images. The worker
    runs this in a thread: decoding a multimodal body (tens of MB of base64) and its
    images takes a while. Raises BadRequest or PayloadTooLarge."""
    body = load_json_body(raw, max_depth=MAX_JSON_DEPTH, max_structure_bytes=limits.max_text_bytes)
    check_text_budget(body, len(raw), limits)
    return parse_chat_request(body, limits)


def parse_chat_request(body: Any, limits: Limits) -> ChatRequest:
    """Validate a decoded JSON body. Raises BadRequest with a message naming the field.

    Images are decoded last, once everything else is known to be valid (decoding is the
    expensive part): run this off the event loop when the body has image parts.
    """
    _require(isinstance(body, dict), "request body must be a JSON object")
    messages, image_urls = _parse_messages(body.get("messages"), limits)

    exo = body.get("exocortex") or {}
    _require(isinstance(exo, dict), "'exocortex' must be an object")
    try:
        request_class = RequestClass.parse(str(exo.get("class", "chat")))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    tenant = exo.get("tenant", "default")
    _require(isinstance(tenant, str) and 0 < len(tenant) <= 128, "'exocortex.tenant' invalid")
    session = exo.get("session")
    _require(
        session is None or (isinstance(session, str) and len(session) <= 256),
        "'exocortex.session' must be a string of at most 256 characters",
    )
    deadline_ms = _integer(exo, "deadline_ms")
    _require(deadline_ms is None or deadline_ms > 0, "'exocortex.deadline_ms' must be > 0")

    cap = limits.max_tokens_for(request_class)
    max_tokens = _integer(body, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens")
    if max_tokens is None:
        max_tokens = min(limits.default_max_tokens, cap)
    _require(
        1 <= max_tokens <= cap,
        f"'max_tokens' must be between 1 and {cap} for {request_class.label} requests, "
        f"got {max_tokens}",
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
    # A voice reply ends when the model ends it; generating past EOS at the top priority
    # only holds the engine (ignore_eos is a benchmarking aid).
    _require(
        not (ignore_eos and request_class is RequestClass.VOICE),
        "'ignore_eos' is not allowed for voice requests",
    )
    model = body.get("model")
    _require(model is None or isinstance(model, str), "'model' must be a string")
    json_schema, json_object = _parse_response_format(body.get("response_format"))
    temperature = _number(body, "temperature", 0.7, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 1e-6, 1.0)
    seed = _integer(body, "seed")

    images = [
        decode_image(url, n, limits.max_image_bytes, limits.max_image_pixels)
        for n, url in enumerate(image_urls, 1)
    ]
    return ChatRequest(
        messages=messages,
        images=images,
        stream=stream,
        include_usage=bool(stream_options.get("include_usage", False)),
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
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
