"""Every environment variable the inference worker reads, in one place.

Nothing else in `inference/` touches `os.environ` for its own settings (vLLM reads its
own `VLLM_*` variables; we leave those to it). `Settings.from_env()` parses and checks
them once at start-up so a typo fails fast instead of surfacing mid-request.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inference.model_store import PACKAGED_MODELS, PACKAGED_PREFIX, unknown_packaged_message
from inference.scheduler import RequestClass


class ConfigError(ValueError):
    """An environment variable has a value we cannot use."""


# A shorter shared secret is too easy to guess; `secrets.token_urlsafe(32)` gives 43.
MIN_API_KEY_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True when `host` is only reachable from this machine (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # another host name: it may resolve to a public interface
        return False


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0/true/false), got {raw!r}")


def _weights(env: Mapping[str, str], name: str) -> dict[str, float]:
    """Parse `tenant=weight,tenant=weight`."""
    raw = env.get(name, "").strip()
    weights: dict[str, float] = {}
    if not raw:
        return weights
    for item in raw.split(","):
        tenant, sep, value = item.partition("=")
        if not sep or not tenant.strip():
            raise ConfigError(f"{name}: expected tenant=weight, got {item!r}")
        try:
            weight = float(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: weight for {tenant!r} is not a number") from exc
        if weight <= 0:
            raise ConfigError(f"{name}: weight for {tenant!r} must be > 0")
        weights[tenant.strip()] = weight
    return weights


# Defaults per request class. Deadlines bound time spent *queued* in our scheduler:
# a voice reply that would start after 3 s is useless, a grade can wait minutes.
_DEFAULT_DEADLINE_MS = {
    RequestClass.VOICE: 3_000,
    RequestClass.CHAT: 15_000,
    RequestClass.GRADING: 300_000,
    RequestClass.AUTHORING: 900_000,
}
# Largest max_tokens per class (also capped by INFERENCE_MAX_TOKENS_LIMIT). Voice replies
# are spoken, so a few sentences; a long voice request would hold the top priority.
_DEFAULT_CLASS_MAX_TOKENS = {
    RequestClass.VOICE: 256,
    RequestClass.CHAT: 1_024,
    RequestClass.GRADING: 4_096,
    RequestClass.AUTHORING: 4_096,
}
_DEFAULT_QUEUE_LIMIT = {
    RequestClass.VOICE: 64,
    RequestClass.CHAT: 256,
    RequestClass.GRADING: 2_048,
    RequestClass.AUTHORING: 512,
}


@dataclass(frozen=True)
class Settings:
    """Typed worker settings. Build with `Settings.from_env()`; tests build it directly."""

    # --- HTTP server -------------------------------------------------------------------
    host: str = "127.0.0.1"  # INFERENCE_HOST: bind address of `python -m inference serve`
    port: int = 8100  # INFERENCE_PORT: TCP port of the HTTP API
    # INFERENCE_API_KEY: shared secret; callers send `Authorization: Bearer <key>`. When
    # set, every route but /health requires it. Required (at least MIN_API_KEY_LENGTH
    # characters) unless INFERENCE_HOST is a loopback address: the worker refuses to start.
    # Without it (loopback only) every local caller is trusted.
    api_key: str = field(default="", repr=False)

    # --- model ---------------------------------------------------------------------------
    # INFERENCE_MODEL: "packaged:<name>" (smollm2-135m, qwen2.5-coder-0.5b,
    # qwen2.5-coder-1.5b: GGUFs shipped in pip packages, converted once; see
    # inference/model_store.py), a local HF folder, or a model id in the offline HF cache.
    # Empty = packaged:smollm2-135m.
    model: str = ""
    # INFERENCE_MODEL_NAME: name reported by /v1/models and accepted in "model".
    served_model_name: str = ""
    # INFERENCE_MODEL_CACHE: where the packaged GGUF is converted to a HF folder (once).
    model_cache: Path = field(
        default_factory=lambda: Path.home() / ".cache" / "exocortex" / "models"
    )
    max_model_len: int = 2048  # INFERENCE_MAX_MODEL_LEN: context window (prompt + output)
    # INFERENCE_DTYPE: vLLM dtype ("bfloat16", "float32", ...). "auto": float32 on CPUs
    # without native bf16 arithmetic (ten times faster there), else bfloat16 on a CPU and
    # the model's own dtype on a GPU (see inference/hardware.py).
    dtype: str = "auto"
    # INFERENCE_KV_CACHE_GB: KV cache size on CPU (GiB); 0 = vLLM's default. On a GPU
    # INFERENCE_GPU_MEMORY_UTILIZATION applies instead.
    kv_cache_gb: float = 2.0
    gpu_memory_utilization: float = 0.85  # INFERENCE_GPU_MEMORY_UTILIZATION
    max_num_seqs: int = 128  # INFERENCE_MAX_NUM_SEQS: most sequences vLLM runs in one batch
    # INFERENCE_MAX_BATCHED_TOKENS: token budget of one engine step (chunked prefill). A
    # smaller step bounds how long a newly arrived chat waits for the step in flight.
    max_batched_tokens: int = 512
    # INFERENCE_BLOCK_SIZE: KV cache block size. Small blocks make resuming a preempted
    # request cheap (only the last partial block is recomputed). 0 = vLLM's default.
    block_size: int = 32
    # INFERENCE_ENFORCE_EAGER: skip torch.compile / CUDA graphs (fast start, slower steps).
    enforce_eager: bool = False
    max_images_per_request: int = 4  # INFERENCE_MAX_IMAGES: images allowed in one request
    max_image_bytes: int = 10 * 1024 * 1024  # INFERENCE_MAX_IMAGE_BYTES: per encoded image
    # INFERENCE_MAX_IMAGE_PIXELS: width x height per image, checked from the image header
    # before decoding (a small PNG can expand to gigabytes). 16.7 MP: a 12 MP photo fits.
    max_image_pixels: int = 4096 * 4096
    max_tokens_limit: int = 4096  # INFERENCE_MAX_TOKENS_LIMIT: largest accepted max_tokens
    # INFERENCE_MAX_TOKENS_<CLASS>: largest max_tokens per class (at most the limit above).
    class_max_tokens: Mapping[RequestClass, int] = field(
        default_factory=lambda: dict(_DEFAULT_CLASS_MAX_TOKENS)
    )
    default_max_tokens: int = 512  # INFERENCE_DEFAULT_MAX_TOKENS: when a request omits it

    # --- scheduler -----------------------------------------------------------------------
    # INFERENCE_BATCH_INFLIGHT: batch (grading/authoring) requests kept in the engine while
    # no interactive traffic has been seen for INFERENCE_ACTIVE_WINDOW_S (full throughput).
    batch_inflight: int = 64
    # INFERENCE_BATCH_INFLIGHT_ACTIVE: batch requests in the engine while interactive
    # (voice/chat) traffic is active. The main latency/throughput knob; see the benchmark.
    batch_inflight_active: int = 8
    # INFERENCE_BATCH_INFLIGHT_INTERACTIVE: batch requests allowed to keep running while an
    # interactive request waits for its first token; extra ones are preempted.
    batch_inflight_interactive: int = 8
    # INFERENCE_ACTIVE_WINDOW_S: how long after the last interactive request batch work
    # stays narrowed to INFERENCE_BATCH_INFLIGHT_ACTIVE.
    active_window_s: float = 10.0
    # INFERENCE_PREEMPT: preempt running batch requests (abort + resume from their
    # generated prefix) when an interactive request arrives. Off = admission hold only.
    preempt: bool = True
    interactive_inflight: int = 64  # INFERENCE_INTERACTIVE_INFLIGHT: cap on voice+chat running
    # INFERENCE_DEADLINE_<CLASS>_MS: longest a request of that class may wait in our queue.
    deadline_ms: Mapping[RequestClass, int] = field(
        default_factory=lambda: dict(_DEFAULT_DEADLINE_MS)
    )
    # INFERENCE_QUEUE_LIMIT_<CLASS>: queued requests per class before answering 429.
    queue_limit: Mapping[RequestClass, int] = field(
        default_factory=lambda: dict(_DEFAULT_QUEUE_LIMIT)
    )
    # INFERENCE_TENANT_WEIGHTS: "school-a=2,school-b=1"; unlisted tenants weigh 1.
    tenant_weights: Mapping[str, float] = field(default_factory=dict)
    # INFERENCE_COALESCE_MS: window in which streamed deltas are merged into one SSE event.
    coalesce_ms: float = 30.0
    # INFERENCE_READY_TIMEOUT_S: /ready fails when its 1-token probe takes longer.
    ready_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.model.startswith(PACKAGED_PREFIX):
            name = self.model.removeprefix(PACKAGED_PREFIX)
            if name not in PACKAGED_MODELS:
                raise ConfigError(f"INFERENCE_MODEL: {unknown_packaged_message(name)}")
        if self.api_key and len(self.api_key) < MIN_API_KEY_LENGTH:
            raise ConfigError(
                f"INFERENCE_API_KEY must be at least {MIN_API_KEY_LENGTH} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if not self.api_key and not is_loopback(self.host):
            raise ConfigError(
                f"INFERENCE_API_KEY is required when INFERENCE_HOST ({self.host}) is not a "
                "loopback address: without it anyone who can reach the port could use the "
                "model and claim any request class or tenant"
            )
        if not 1 <= self.batch_inflight_active <= self.batch_inflight:
            raise ConfigError(
                "INFERENCE_BATCH_INFLIGHT_ACTIVE must be between 1 and INFERENCE_BATCH_INFLIGHT"
            )
        if not 0 <= self.batch_inflight_interactive <= self.batch_inflight_active:
            raise ConfigError(
                "INFERENCE_BATCH_INFLIGHT_INTERACTIVE must be between 0 and "
                "INFERENCE_BATCH_INFLIGHT_ACTIVE"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `env` (default `os.environ`). Raises ConfigError on bad values."""
        env = os.environ if env is None else env
        deadline = {
            c: _int(env, f"INFERENCE_DEADLINE_{c.name}_MS", _DEFAULT_DEADLINE_MS[c], minimum=1)
            for c in RequestClass
        }
        queue_limit = {
            c: _int(env, f"INFERENCE_QUEUE_LIMIT_{c.name}", _DEFAULT_QUEUE_LIMIT[c], minimum=1)
            for c in RequestClass
        }
        class_max_tokens = {
            c: _int(env, f"INFERENCE_MAX_TOKENS_{c.name}", _DEFAULT_CLASS_MAX_TOKENS[c], minimum=1)
            for c in RequestClass
        }
        cache_raw = env.get("INFERENCE_MODEL_CACHE", "").strip()
        return cls(
            host=env.get("INFERENCE_HOST", "").strip() or cls.host,
            port=_int(env, "INFERENCE_PORT", cls.port, minimum=1),
            api_key=env.get("INFERENCE_API_KEY", "").strip(),
            model=env.get("INFERENCE_MODEL", "").strip(),
            served_model_name=env.get("INFERENCE_MODEL_NAME", "").strip(),
            model_cache=(
                Path(cache_raw).expanduser()
                if cache_raw
                else Path.home() / ".cache" / "exocortex" / "models"
            ),
            max_model_len=_int(env, "INFERENCE_MAX_MODEL_LEN", cls.max_model_len, minimum=16),
            dtype=env.get("INFERENCE_DTYPE", "").strip() or cls.dtype,
            kv_cache_gb=_float(env, "INFERENCE_KV_CACHE_GB", cls.kv_cache_gb),
            gpu_memory_utilization=_float(
                env, "INFERENCE_GPU_MEMORY_UTILIZATION", cls.gpu_memory_utilization
            ),
            max_num_seqs=_int(env, "INFERENCE_MAX_NUM_SEQS", cls.max_num_seqs, minimum=1),
            max_batched_tokens=_int(
                env, "INFERENCE_MAX_BATCHED_TOKENS", cls.max_batched_tokens, minimum=16
            ),
            block_size=_int(env, "INFERENCE_BLOCK_SIZE", cls.block_size),
            enforce_eager=_bool(env, "INFERENCE_ENFORCE_EAGER", cls.enforce_eager),
            max_images_per_request=_int(env, "INFERENCE_MAX_IMAGES", cls.max_images_per_request),
            max_image_bytes=_int(env, "INFERENCE_MAX_IMAGE_BYTES", cls.max_image_bytes, minimum=1),
            max_image_pixels=_int(
                env, "INFERENCE_MAX_IMAGE_PIXELS", cls.max_image_pixels, minimum=1
            ),
            max_tokens_limit=_int(
                env, "INFERENCE_MAX_TOKENS_LIMIT", cls.max_tokens_limit, minimum=1
            ),
            class_max_tokens=class_max_tokens,
            default_max_tokens=_int(
                env, "INFERENCE_DEFAULT_MAX_TOKENS", cls.default_max_tokens, minimum=1
            ),
            batch_inflight=_int(env, "INFERENCE_BATCH_INFLIGHT", cls.batch_inflight, minimum=1),
            batch_inflight_active=_int(
                env, "INFERENCE_BATCH_INFLIGHT_ACTIVE", cls.batch_inflight_active, minimum=1
            ),
            batch_inflight_interactive=_int(
                env, "INFERENCE_BATCH_INFLIGHT_INTERACTIVE", cls.batch_inflight_interactive
            ),
            active_window_s=_float(env, "INFERENCE_ACTIVE_WINDOW_S", cls.active_window_s),
            preempt=_bool(env, "INFERENCE_PREEMPT", cls.preempt),
            interactive_inflight=_int(
                env, "INFERENCE_INTERACTIVE_INFLIGHT", cls.interactive_inflight, minimum=1
            ),
            deadline_ms=deadline,
            queue_limit=queue_limit,
            tenant_weights=_weights(env, "INFERENCE_TENANT_WEIGHTS"),
            coalesce_ms=_float(env, "INFERENCE_COALESCE_MS", cls.coalesce_ms),
            ready_timeout_s=_float(env, "INFERENCE_READY_TIMEOUT_S", cls.ready_timeout_s),
        )
