"""Request validation and settings parsing: pure functions, no engine."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from inference.config import ConfigError, Settings
from inference.errors import BadRequest
from inference.protocol import Limits, parse_chat_request
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
