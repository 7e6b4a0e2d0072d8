"""Request validation and settings parsing: pure functions, no engine."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from inference.config import ConfigError, Settings
from inference.errors import BadRequest, PayloadTooLarge
from inference.protocol import Limits, check_text_budget, load_json_body, parse_chat_request
from inference.scheduler import RequestClass

LIMITS = Limits(max_tokens_limit=100, default_max_tokens=10, max_images=2)


def msg(text: str = "hi") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_defaults_and_scheduling_fields():
    req = parse_chat_request(
        {
            "messages": msg(),
            "exocortex": {
                "class": "grading",
                "tenant": "school-1",
                "session": "s",
                "deadline_ms": 50,
            },
        },
        LIMITS,
    )
    assert req.max_tokens == 10
    assert req.request_class is RequestClass.GRADING
    assert (req.tenant, req.session, req.deadline_ms) == ("school-1", "s", 50)
    assert req.stream is False
    assert req.images == []


def test_json_schema_response_format_and_image_parts():
    schema = {"type": "object"}
    req = parse_chat_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": png()}},
                    ],
                }
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema},
            },
        },
        LIMITS,
    )
    assert req.json_schema == schema
    assert len(req.images) == 1
    assert req.images[0].size == (4, 4)
    assert req.messages[0]["content"] == [{"type": "text", "text": "look"}, {"type": "image"}]


def test_text_parts_are_flattened_without_images():
    req = parse_chat_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ]
        },
        LIMITS,
    )
    assert req.messages == [{"role": "user", "content": "ab"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role must be one of"),
        ({"messages": msg(), "max_tokens": 0}, "'max_tokens' must be between 1 and 100"),
        ({"messages": msg(), "max_tokens": True}, "'max_tokens' must be an integer"),
        ({"messages": msg(), "n": 2}, "'n' other than 1"),
        ({"messages": msg(), "stop": ["a"] * 5}, "'stop' must be"),
        ({"messages": msg(), "top_p": 0}, "'top_p' must be between"),
        ({"messages": msg(), "exocortex": {"deadline_ms": -1}}, "deadline_ms' must be > 0"),
        ({"messages": msg(), "exocortex": {"class": "vip"}}, "unknown request class 'vip'"),
        ({"messages": msg(), "response_format": {"type": "xml"}}, "'response_format.type'"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                        ],
                    }
                ]
            },
            "only data: URLs",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}
                        ],
                    }
                ]
            },
            "invalid base64",
        ),
    ],
)
def test_invalid_requests_name_the_problem(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_chat_request(body, LIMITS)


def test_settings_from_env_parses_and_validates(tmp_path: Path):
    settings = Settings.from_env(
        {
            "INFERENCE_PORT": "9000",
            "INFERENCE_MODEL_CACHE": str(tmp_path),
            "INFERENCE_TENANT_WEIGHTS": "a=2, b=0.5",
            "INFERENCE_DEADLINE_CHAT_MS": "1234",
            "INFERENCE_QUEUE_LIMIT_GRADING": "7",
            "INFERENCE_PREEMPT": "false",
        }
    )
    assert settings.port == 9000
    assert settings.model_cache == tmp_path
    assert settings.tenant_weights == {"a": 2.0, "b": 0.5}
    assert settings.deadline_ms[RequestClass.CHAT] == 1234
    assert settings.deadline_ms[RequestClass.VOICE] == 3000
    assert settings.queue_limit[RequestClass.GRADING] == 7
    assert settings.preempt is False
    assert Settings.from_env({}).model == ""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INFERENCE_PORT": "http"}, "INFERENCE_PORT must be an integer"),
        ({"INFERENCE_BATCH_INFLIGHT": "0"}, "INFERENCE_BATCH_INFLIGHT must be >= 1"),
        ({"INFERENCE_PREEMPT": "maybe"}, "INFERENCE_PREEMPT must be a boolean"),
        ({"INFERENCE_TENANT_WEIGHTS": "a=0"}, "must be > 0"),
        ({"INFERENCE_TENANT_WEIGHTS": "a"}, "expected tenant=weight"),
        ({"INFERENCE_BATCH_INFLIGHT": "4"}, "INFERENCE_BATCH_INFLIGHT_ACTIVE must be between"),
    ],
)
def test_settings_reject_bad_values(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


# --- untrusted input ------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"messages": [], "x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_json_nesting_up_to_the_limit_is_parsed():
    assert load_json_body(nested(64), max_depth=64, max_structure_bytes=10_000)["messages"] == []


@pytest.mark.parametrize("depth", [65, 1_000, 200_000])
def test_json_nesting_past_the_limit_is_refused_without_parsing(depth):
    with pytest.raises(BadRequest, match="nests arrays/objects deeper than 64 levels"):
        load_json_body(nested(depth), max_depth=64, max_structure_bytes=10**7)


@pytest.mark.parametrize(
    "text",
    [
        # Brackets and escaped quotes inside strings are text, not structure.
        '{"a": "' + "[" * 500 + '\\"]", "b": ["\\\\", "{{{"]}',
        '{"a": "\\"' + "{" * 500 + '"}',
    ],
)
def test_brackets_in_strings_do_not_count_as_nesting(text):
    assert load_json_body(text.encode(), max_depth=3, max_structure_bytes=10_000) == json.loads(
        text
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[[[[" * 10_000, "not valid JSON"),  # unbalanced: never reaches json.loads
        (b'{"a": 1}}', "not valid JSON"),
        (b'{"a": "\xff"}', "must be UTF-8"),
        ('{"a": "é"}'.encode("utf-16"), "must be UTF-8"),
    ],
)
def test_malformed_json_is_400(raw, message):
    with pytest.raises(BadRequest, match=message):
        load_json_body(raw, max_depth=64, max_structure_bytes=10**6)


def test_json_structure_counts_against_the_text_limit():
    raw = json.dumps({"messages": [], "x": [0] * 5_000}).encode()
    with pytest.raises(PayloadTooLarge, match="bytes of JSON outside strings"):
        load_json_body(raw, max_depth=64, max_structure_bytes=10_000)


def test_body_limits_follow_the_context_length():
    text_only = Limits(max_model_len=2048, accepts_images=False)
    multimodal = Limits(
        max_model_len=8192, accepts_images=True, max_images=4, max_image_bytes=3_000_000
    )

    assert text_only.max_text_bytes == text_only.max_body_bytes == 2048 * 32 + 65_536
    assert multimodal.max_text_bytes == 8192 * 32 + 65_536
    assert multimodal.max_body_bytes == multimodal.max_text_bytes + 4 * (4_000_000 + 256)


def test_text_beside_images_is_held_to_the_text_limit():
    limits = Limits(max_model_len=16, accepts_images=True)  # 512 + 64 KiB of text
    image = "data:image/png;base64," + "A" * 500_000
    with_image = {"messages": [{"role": "user", "content": [_image_part(image)]}]}
    with_text = {"messages": [{"role": "user", "content": "word " * 20_000}]}

    check_text_budget(with_image, len(json.dumps(with_image)), limits)
    with pytest.raises(PayloadTooLarge, match="besides images"):
        check_text_budget(with_text, len(json.dumps(with_text)), limits)


def _image_part(url: str) -> dict[str, object]:
    return {"type": "image_url", "image_url": {"url": url}}


def test_images_are_refused_on_a_text_only_model_before_decoding():
    body = {"messages": [{"role": "user", "content": [_image_part("data:image/png;base64,@@")]}]}
    with pytest.raises(BadRequest, match="does not accept images"):
        parse_chat_request(body, Limits(accepts_images=False))


def test_image_pixels_are_capped_before_decoding():
    big = io.BytesIO()
    Image.new("RGB", (300, 200), "blue").save(big, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(big.getvalue()).decode()
    body = {"messages": [{"role": "user", "content": [_image_part(url)]}]}

    with pytest.raises(BadRequest, match=r"image 1: more than 50000 pixels.*\(it is 300x200\)"):
        parse_chat_request(body, Limits(max_image_pixels=50_000))
    assert parse_chat_request(body, Limits(max_image_pixels=60_000)).images[0].size == (300, 200)


def test_only_common_image_formats_are_decoded():
    tiff = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(tiff, format="TIFF")
    url = "data:image/tiff;base64," + base64.b64encode(tiff.getvalue()).decode()
    body = {"messages": [{"role": "user", "content": [_image_part(url)]}]}
    with pytest.raises(BadRequest, match="image 1: not a decodable image"):
        parse_chat_request(body, LIMITS)


CAPS = Limits(
    max_tokens_limit=4096,
    default_max_tokens=512,
    class_max_tokens={RequestClass.VOICE: 256, RequestClass.CHAT: 1024},
)


@pytest.mark.parametrize(
    ("request_class", "max_tokens", "ok"),
    [
        ("voice", 256, True),
        ("voice", 257, False),
        ("chat", 1024, True),
        ("chat", 1025, False),
        ("grading", 4096, True),  # not listed: the global limit
        ("grading", 4097, False),
    ],
)
def test_max_tokens_is_capped_per_class(request_class, max_tokens, ok):
    body = {"messages": msg(), "max_tokens": max_tokens, "exocortex": {"class": request_class}}
    if ok:
        assert parse_chat_request(body, CAPS).max_tokens == max_tokens
    else:
        with pytest.raises(BadRequest, match=f"for {request_class} requests, got {max_tokens}"):
            parse_chat_request(body, CAPS)


def test_the_default_max_tokens_respects_the_class_cap():
    voice = parse_chat_request({"messages": msg(), "exocortex": {"class": "voice"}}, CAPS)
    chat = parse_chat_request({"messages": msg()}, CAPS)
    assert (voice.max_tokens, chat.max_tokens) == (256, 512)


def test_voice_requests_may_not_ignore_eos():
    body = {"messages": msg(), "ignore_eos": True, "exocortex": {"class": "voice"}}
    with pytest.raises(BadRequest, match="'ignore_eos' is not allowed for voice requests"):
        parse_chat_request(body, CAPS)
    body["exocortex"] = {"class": "chat"}
    assert parse_chat_request(body, CAPS).ignore_eos is True


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "localhost", "::1", "[::1]"])
def test_on_loopback_the_api_key_is_optional(host):
    assert Settings.from_env({"INFERENCE_HOST": host}).api_key == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.7", "inference"])  # noqa: S104
def test_on_any_other_address_the_api_key_is_required(host):
    with pytest.raises(ConfigError, match="INFERENCE_API_KEY is required"):
        Settings.from_env({"INFERENCE_HOST": host})
    key = "k" * 16
    assert Settings.from_env({"INFERENCE_HOST": host, "INFERENCE_API_KEY": key}).api_key == key


def test_a_short_api_key_is_refused_and_the_key_is_not_in_repr():
    with pytest.raises(ConfigError, match="at least 16 characters"):
        Settings.from_env({"INFERENCE_API_KEY": "secret"})
    settings = Settings.from_env({"INFERENCE_API_KEY": " s3cr3t-s3cr3t-s3cr3t "})
    assert settings.api_key == "s3cr3t-s3cr3t-s3cr3t"
    assert "s3cr3t" not in repr(settings)


def test_settings_read_the_new_limits():
    settings = Settings.from_env(
        {"INFERENCE_MAX_TOKENS_VOICE": "64", "INFERENCE_MAX_IMAGE_PIXELS": "1000000"}
    )
    assert settings.class_max_tokens[RequestClass.VOICE] == 64
    assert settings.class_max_tokens[RequestClass.CHAT] == 1024
    assert settings.max_image_pixels == 1_000_000
