"""Async client for the inference worker, with session-affinity routing.

This is the one door from the Django side to the model. It imports neither vllm nor
torch (only httpx and the shared error types), so web processes stay light.

    client = InferenceClient(["http://gpu-1:8100", "http://gpu-2:8100"], api_key=KEY)
    async with client.stream_chat(messages, session="s-42", tenant="school-7") as stream:
        async for text in stream:
            ...                      # coalesced text deltas
    # leaving the block early (or stream.abort()) closes the connection, which aborts
    # the request in the engine.

With several workers, a session always goes to the same worker (consistent hashing on
the session id), so its KV prefix stays warm there; when that worker is down the next
one on the ring takes over, and the dead one is skipped for a cool-down period.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from inference.errors import (
    ERRORS_BY_CODE,
    BadRequest,
    DeadlineExceeded,
    InferenceBusy,
    InferenceError,
    InferenceUnavailable,
    PayloadTooLarge,
    Unauthorized,
)

__all__ = [
    "BadRequest",
    "ChatStream",
    "Completion",
    "DeadlineExceeded",
    "InferenceBusy",
    "InferenceClient",
    "InferenceError",
    "InferenceUnavailable",
    "PayloadTooLarge",
    "Unauthorized",
    "WorkerRouter",
    "build_messages",
]


def build_messages(
    *,
    system: str,
    course_context: str = "",
    learner_memory: str = "",
    conversation: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Order prompt parts from most shared to least shared, so requests share prefixes.

    The system prompt is the same for everyone, the course context for everyone in a
    lesson, the learner memory for one learner; the conversation changes every turn.
    Keeping that order (and the exact separators) lets the engine's prefix cache reuse
    the longest possible prefix across requests.
    """
    parts = [system.strip()]
    if course_context:
        parts.append("# Course material\n" + course_context.strip())
    if learner_memory:
        parts.append("# About this learner\n" + learner_memory.strip())
    return [{"role": "system", "content": "\n\n".join(parts)}, *conversation]


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


class WorkerRouter:
    """Consistent-hash ring of worker URLs with virtual nodes and a down-list.

    Adding or removing a worker moves only the sessions that hashed to it.
    """

    def __init__(
        self, urls: Sequence[str], *, replicas: int = 64, cooldown_s: float = 10.0
    ) -> None:
        if not urls:
            raise ValueError("at least one worker URL is required")
        self.urls = [u.rstrip("/") for u in urls]
        self.cooldown_s = cooldown_s
        ring = sorted((_hash(f"{url}#{i}"), url) for url in self.urls for i in range(replicas))
        self._points = [p for p, _ in ring]
        self._owners = [u for _, u in ring]
        self._down_until: dict[str, float] = {}

    def candidates(self, key: str | None) -> list[str]:
        """Workers to try for `key`, in order: the owner first, then the next distinct
        workers clockwise; workers marked down go last (they may have recovered)."""
        key = key if key is not None else uuid.uuid4().hex
        start = bisect.bisect(self._points, _hash(key))
        order: list[str] = []
        for i in range(len(self._owners)):
            url = self._owners[(start + i) % len(self._owners)]
            if url not in order:
                order.append(url)
                if len(order) == len(self.urls):
                    break
        now = time.monotonic()
        up = [u for u in order if self._down_until.get(u, 0.0) <= now]
        return up + [u for u in order if u not in up]

    def mark_down(self, url: str) -> None:
        self._down_until[url] = time.monotonic() + self.cooldown_s

    def mark_up(self, url: str) -> None:
        self._down_until.pop(url, None)


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    worker: str = ""


def _error_from_response(status: int, body: bytes, headers: httpx.Headers) -> InferenceError:
    try:
        err = json.loads(body)["error"]
        message, code = str(err.get("message", "")), str(err.get("code", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        message, code = body[:200].decode(errors="replace") or f"HTTP {status}", ""
    if status == 429 or code == InferenceBusy.code:
        try:
            retry_after = float(headers.get("retry-after", "1"))
        except ValueError:
            retry_after = 1.0
        return InferenceBusy(message, retry_after)
    cls = ERRORS_BY_CODE.get(code)
    if cls is None or cls is InferenceBusy:
        if status == 503:
            cls = InferenceUnavailable
        elif status in (401, 413):  # e.g. from a proxy in front of the worker
            cls = Unauthorized if status == 401 else PayloadTooLarge
        elif 400 <= status < 500:
            cls = BadRequest
        else:
            cls = InferenceError
    return cls(message)


class ChatStream:
    """An open streaming completion: async iterator of text deltas and an async context
    manager. `finish_reason` and `usage` are set once the stream ends. Closing it early
    closes the HTTP connection, which makes the worker abort the engine request."""

    def __init__(self, client: InferenceClient, body: dict[str, Any], key: str | None) -> None:
        self._client = client
        self._body = body
        self._key = key
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None
        self.worker = ""
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] = {}

    async def __aenter__(self) -> ChatStream:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.abort()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _open(self) -> None:
        if self._response is None:
            self._response, self.worker = await self._client._send(self._body, self._key)
            self._lines = self._response.aiter_lines()

    async def _iterate(self) -> AsyncIterator[str]:
        await self._open()
        assert self._lines is not None  # noqa: S101 - set by _open
        try:
            async for line in self._lines:
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if "error" in event:
                    err = event["error"]
                    cls = ERRORS_BY_CODE.get(err.get("code", ""), InferenceError)
                    raise cls(err.get("message", "stream failed"))
                if event.get("usage"):
                    self.usage = event["usage"]
                for choice in event.get("choices", ()):
                    if choice.get("finish_reason"):
                        self.finish_reason = choice["finish_reason"]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        yield text
        except httpx.TransportError as exc:
            raise InferenceUnavailable(f"worker {self.worker} dropped the stream: {exc}") from exc
        finally:
            await self.abort()

    async def abort(self) -> None:
        """Stop the generation (closes the connection). Safe to call more than once."""
        if self._response is not None:
            await self._response.aclose()


class InferenceClient:
    """Talks to one or several workers. Timeouts: `connect_timeout_s` is short so a dead
    worker fails over quickly; `timeout_s` bounds the wait for each piece of a response
    (the first token may queue behind others, up to the request's deadline).

    `api_key`: the workers' INFERENCE_API_KEY, sent as a bearer token on every request
    (all workers share it). Without it, a worker that has a key answers 401
    (`Unauthorized`)."""

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 2.0,
        cooldown_s: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.router = WorkerRouter([urls] if isinstance(urls, str) else urls, cooldown_s=cooldown_s)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        )

    async def __aenter__(self) -> InferenceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def _body(
        messages: Sequence[dict[str, Any]],
        *,
        stream: bool,
        request_class: str,
        tenant: str | None,
        session: str | None,
        deadline_ms: int | None,
        max_tokens: int | None,
        temperature: float | None,
        json_schema: dict[str, Any] | None,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        exo: dict[str, Any] = {"class": request_class}
        if tenant is not None:
            exo["tenant"] = tenant
        if session is not None:
            exo["session"] = session
        if deadline_ms is not None:
            exo["deadline_ms"] = deadline_ms
        body: dict[str, Any] = {"messages": list(messages), "stream": stream, "exocortex": exo}
        if stream:
            body["stream_options"] = {"include_usage": True}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        if json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": json_schema},
            }
        body.update(extra)
        return body

    async def _send(self, body: dict[str, Any], key: str | None) -> tuple[httpx.Response, str]:
        """POST to the session's worker, failing over on connection errors and 503.

        Returns the open response (status 200). Raises the mapped InferenceError.
        """
        last_error: InferenceError = InferenceUnavailable("no inference worker reachable")
        for url in self.router.candidates(key):
            request = self._http.build_request(
                "POST", f"{url}/v1/chat/completions", json=body, headers=self._headers
            )
            try:
                response = await self._http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                self.router.mark_down(url)
                last_error = InferenceUnavailable(f"worker {url} unreachable: {exc}")
                continue
            except httpx.TimeoutException as exc:
                raise InferenceUnavailable(f"worker {url} timed out: {exc}") from exc
            if response.status_code == 200:
                self.router.mark_up(url)
                return response, url
            payload = await response.aread()
            await response.aclose()
            error = _error_from_response(response.status_code, payload, response.headers)
            if isinstance(error, InferenceUnavailable):
                self.router.mark_down(url)  # starting or failed: try the next worker
                last_error = error
                continue
            raise error
        raise last_error

    def stream_chat(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        request_class: str = "chat",
        tenant: str | None = None,
        session: str | None = None,
        deadline_ms: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
        **extra: Any,
    ) -> ChatStream:
        """Start a streaming completion. Use as `async with` (or iterate it directly)."""
        body = self._body(
            messages,
            stream=True,
            request_class=request_class,
            tenant=tenant,
            session=session,
            deadline_ms=deadline_ms,
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=json_schema,
            extra=extra,
        )
        return ChatStream(self, body, session)

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        request_class: str = "chat",
        tenant: str | None = None,
        session: str | None = None,
        deadline_ms: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Completion:
        """Run a completion to the end and return its text (JSON text with json_schema)."""
        body = self._body(
            messages,
            stream=False,
            request_class=request_class,
            tenant=tenant,
            session=session,
            deadline_ms=deadline_ms,
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=json_schema,
            extra=extra,
        )
        response, worker = await self._send(body, session)
        try:
            payload = json.loads(await response.aread())
        except httpx.TransportError as exc:
            raise InferenceUnavailable(f"worker {worker} dropped the response: {exc}") from exc
        finally:
            await response.aclose()
        choice = payload["choices"][0]
        return Completion(
            text=choice["message"]["content"],
            finish_reason=choice.get("finish_reason"),
            usage=payload.get("usage", {}),
            worker=worker,
        )

    async def accepts_images(self) -> bool:
        """Whether the workers' model takes images (GET /v1/models of the first worker
        that answers). InferenceUnavailable when none answers."""
        last: Exception | None = None
        for url in self.router.urls:
            try:
                response = await self._http.get(f"{url}/v1/models", headers=self._headers)
                response.raise_for_status()
                models = response.json().get("data", [])
            except (httpx.HTTPError, ValueError) as exc:
                last = exc
                continue
            return any(model.get("accepts_images") for model in models)
        raise InferenceUnavailable(f"no inference worker answered: {last}")

    async def health(self) -> dict[str, dict[str, Any]]:
        """Liveness and load of every worker: {url: {"ok": bool, ...}}. Never raises."""
        report: dict[str, dict[str, Any]] = {}
        for url in self.router.urls:
            try:
                response = await self._http.get(f"{url}/health", headers=self._headers)
                entry: dict[str, Any] = {"ok": response.status_code == 200, **response.json()}
                if entry["ok"]:
                    load = await self._http.get(f"{url}/v1/load", headers=self._headers)
                    if load.status_code == 200:
                        entry["load"] = load.json()
            except (httpx.HTTPError, ValueError) as exc:
                entry = {"ok": False, "error": str(exc)}
            report[url] = entry
        return report
