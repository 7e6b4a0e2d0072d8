"""OpenAI-compatible HTTP API of the worker (Starlette).

Routes: POST /v1/chat/completions (streaming SSE or not), GET /v1/models, GET /health
(liveness), GET /ready (readiness: a real 1-token generation), GET /metrics
(Prometheus), GET /v1/load (queue depth and estimated wait per class).

Each request's generation runs in its own producer task that feeds a queue; the HTTP side
reads that queue, coalesces deltas into small time windows, and cancels the producer when
the client disconnects (which aborts the engine request). Errors that happen before the
first token get a real HTTP status (400/429/503/504), so streaming callers can tell a full
queue from a failure without parsing a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inference.config import Settings
from inference.engine import Delta, Worker
from inference.errors import BadRequest, InferenceBusy, InferenceError, InferenceUnavailable
from inference.protocol import (
    Limits,
    chunk_body,
    completion_body,
    error_body,
    parse_chat_request,
    sse,
    usage_body,
)

logger = logging.getLogger(__name__)

_END = object()
_MAX_BODY_BYTES = 64 * 1024 * 1024


def error_response(exc: InferenceError) -> JSONResponse:
    headers = {}
    if isinstance(exc, InferenceBusy):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return JSONResponse(error_body(exc.message, exc.code, exc.status), exc.status, headers)


class _Generation:
    """Runs `Worker.generate` in a task and hands its deltas over through a queue."""

    def __init__(self, source: AsyncIterator[Delta]) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._pump(source))

    async def _pump(self, source: AsyncIterator[Delta]) -> None:
        try:
            async for delta in source:
                self._queue.put_nowait(delta)
            self._queue.put_nowait(_END)
        except Exception as exc:  # handed to the reader, who owns the response
            self._queue.put_nowait(exc)

    async def get(self, wait_s: float | None = None) -> Any:
        """Next delta, `_END`, or raise the generation's error. TimeoutError after wait_s."""
        item = await asyncio.wait_for(self._queue.get(), wait_s)
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self) -> None:
        """Stop the generation (aborts the engine request). Safe to call twice."""
        self._task.cancel()


async def _watch_disconnect(request: Request) -> None:
    """Return when the client disconnects. Precondition: the body was already read."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _until_disconnect(request: Request, work: Awaitable[Any]) -> Any:
    """Await `work`, or raise ConnectionAbortedError if the client goes away first."""
    work_task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_watch_disconnect(request))
    try:
        done, _ = await asyncio.wait({work_task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if work_task in done:
            return work_task.result()
        raise ConnectionAbortedError("client disconnected")
    finally:
        watcher.cancel()
        work_task.cancel()


def _merge(a: Delta, b: Delta) -> Delta:
    return Delta(
        a.text + b.text,
        b.completion_tokens,
        finish_reason=b.finish_reason,
        prompt_tokens=b.prompt_tokens,
        cached_tokens=b.cached_tokens,
    )


async def coalesced(gen: _Generation, first: Delta | object, window_s: float) -> AsyncIterator[Any]:
    """Yield deltas merged over `window_s`, starting with `first` (sent at once: the first
    token is what the user waits for). Ends with `_END`."""
    loop = asyncio.get_running_loop()
    if first is _END:
        yield _END
        return
    yield first
    buffer: Delta | None = None
    flush_at = 0.0
    while True:
        timeout = None if buffer is None else max(0.0, flush_at - loop.time())
        try:
            item = await gen.get(timeout)
        except TimeoutError:
            if buffer is not None:  # always true: a timeout is only set with a buffer
                yield buffer
            buffer = None
            continue
        if item is _END:
            if buffer is not None:
                yield buffer
            yield _END
            return
        if buffer is None:
            buffer = item
            flush_at = loop.time() + window_s
        else:
            buffer = _merge(buffer, item)
        if window_s <= 0 or buffer.finish_reason is not None:
            yield buffer
            buffer = None


def create_app(
    settings: Settings,
    worker_factory: Callable[[Settings], Awaitable[Worker]] | None = None,
) -> Starlette:
    """Build the ASGI app. The worker starts in the background at startup so /health
    answers while the engine loads; /ready and generation answer 503 until it is up."""
    factory = worker_factory or Worker.start
    state: dict[str, Any] = {"worker": None, "error": None}
    limits = Limits(
        max_tokens_limit=settings.max_tokens_limit,
        default_max_tokens=settings.default_max_tokens,
        max_images=settings.max_images_per_request,
        max_image_bytes=settings.max_image_bytes,
    )
    window_s = settings.coalesce_ms / 1000.0

    def worker_or_503() -> Worker:
        worker: Worker | None = state["worker"]
        if worker is None:
            reason = state["error"] or "the engine is still starting"
            raise InferenceUnavailable(str(reason))
        return worker

    async def chat_completions(request: Request) -> Response:
        try:
            worker = worker_or_503()
            raw = await request.body()
            if len(raw) > _MAX_BODY_BYTES:
                raise BadRequest("request body too large")
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise BadRequest("request body is not valid JSON") from None
            if b'"image_url"' in raw:
                # Decoding and checking images can take a while: keep the loop (and every
                # other stream) running meanwhile.
                chat = await asyncio.to_thread(parse_chat_request, body, limits)
            else:
                chat = parse_chat_request(body, limits)
            prepared = worker.prepare(chat)
            gen = _Generation(worker.generate(prepared))
            try:
                first = await _until_disconnect(request, gen.get())
            except BaseException:
                gen.cancel()
                raise
        except InferenceError as exc:
            return error_response(exc)
        except ConnectionAbortedError:
            return Response(status_code=499)

        model = worker.model_name
        if chat.stream:
            return StreamingResponse(
                _sse_stream(gen, first, chat.request_id, model, chat.include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        try:
            parts: list[str] = []
            last: Delta | None = None
            item = first
            while isinstance(item, Delta):
                parts.append(item.text)
                last = item
                item = await _until_disconnect(request, gen.get())
        except InferenceError as exc:
            return error_response(exc)
        except ConnectionAbortedError:
            return Response(status_code=499)
        finally:
            gen.cancel()
        if last is None:  # the engine finished without output; report it as a failure
            return error_response(InferenceError("the engine produced no output"))
        usage = usage_body(last.prompt_tokens, last.completion_tokens, last.cached_tokens)
        return JSONResponse(
            completion_body(chat.request_id, model, "".join(parts), last.finish_reason, usage)
        )

    async def _sse_stream(
        gen: _Generation, first: Any, request_id: str, model: str, include_usage: bool
    ) -> AsyncIterator[bytes]:
        created = int(time.time())
        role_sent = False
        try:
            async for item in coalesced(gen, first, window_s):
                if item is _END:
                    break
                body = chunk_body(
                    request_id,
                    model,
                    created,
                    content=item.text,
                    role=None if role_sent else "assistant",
                    finish_reason=item.finish_reason,
                )
                role_sent = True
                yield sse(body)
                if item.finish_reason is not None and include_usage:
                    usage = usage_body(
                        item.prompt_tokens, item.completion_tokens, item.cached_tokens
                    )
                    yield sse(chunk_body(request_id, model, created, usage=usage))
        except InferenceError as exc:
            yield sse(error_body(exc.message, exc.code, exc.status))
        finally:
            # Client gone (this generator is cancelled/closed) or done: stop the engine.
            gen.cancel()
        yield sse("[DONE]")

    async def models(request: Request) -> Response:
        worker = state["worker"]
        name = worker.model_name if worker else (settings.served_model_name or settings.model)
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "exocortex"}],
            }
        )

    async def health(request: Request) -> Response:
        worker: Worker | None = state["worker"]
        if state["error"] is not None or (worker is not None and worker.engine.errored):
            return JSONResponse({"status": "failed", "error": str(state["error"])}, 503)
        return JSONResponse({"status": "ok", "engine": "up" if worker else "starting"})

    async def ready(request: Request) -> Response:
        try:
            worker = worker_or_503()
            started = time.perf_counter()
            await worker.ready_probe()
        except InferenceError as exc:
            return error_response(exc)
        return JSONResponse(
            {"status": "ready", "probe_ms": round((time.perf_counter() - started) * 1000, 1)}
        )

    async def load(request: Request) -> Response:
        try:
            return JSONResponse(worker_or_503().load())
        except InferenceError as exc:
            return error_response(exc)

    async def metrics(request: Request) -> Response:
        worker: Worker | None = state["worker"]
        if worker is None:
            return Response(b"", media_type="text/plain; version=0.0.4")
        worker.refresh_metrics()
        return Response(worker.metrics.render(), media_type="text/plain; version=0.0.4")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def boot() -> None:
            try:
                state["worker"] = await factory(settings)
                logger.info("inference worker ready on %s:%s", settings.host, settings.port)
            except Exception as exc:
                logger.exception("engine failed to start")
                state["error"] = f"engine failed to start: {exc}"

        task = asyncio.ensure_future(boot())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            if state["worker"] is not None:
                state["worker"].shutdown()

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/load", load, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
