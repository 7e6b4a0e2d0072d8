"""OpenAI-compatible HTTP API of the worker (Starlette).

Routes: POST /v1/chat/completions (streaming SSE or not), GET /v1/models, GET /health
(liveness), GET /ready (readiness: a real 1-token generation), GET /metrics
(Prometheus), GET /v1/load (queue depth and estimated wait per class).

Each request's generation runs in its own producer task that feeds a queue; the HTTP side
reads that queue, coalesces deltas into small time windows, and cancels the producer when
the client disconnects (which aborts the engine request). Errors that happen before the
first token get a real HTTP status (400/401/413/429/503/504), so streaming callers can
tell a full queue from a failure without parsing a stream.

Untrusted input: with INFERENCE_API_KEY set, every route but /health needs
`Authorization: Bearer <key>` (checked before the body is read). The body is read chunk
by chunk and refused (413) past a limit derived from the context length; its JSON depth
is checked before parsing; parsing, validation (image decoding) and prompt
rendering/tokenising run in thread pools, never on the event loop that carries every
other stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inference.config import Settings
from inference.errors import (
    InferenceBusy,
    InferenceError,
    InferenceUnavailable,
    PayloadTooLarge,
    Unauthorized,
)
from inference.protocol import (
    Delta,
    Limits,
    chunk_body,
    completion_body,
    error_body,
    parse_chat_body,
    sse,
    usage_body,
)

if TYPE_CHECKING:  # importing the engine module imports vLLM; the app itself does not need it
    from inference.engine import Worker

logger = logging.getLogger(__name__)

_END = object()


def error_response(exc: InferenceError, *, close: bool = False) -> JSONResponse:
    """The JSON error for `exc`. `close`: the request body was not read to its end, so
    end the connection instead of letting the server drain whatever the client still
    sends."""
    headers = {}
    if isinstance(exc, InferenceBusy):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if close:
        headers["Connection"] = "close"
    return JSONResponse(error_body(exc.message, exc.code, exc.status), exc.status, headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read chunk by chunk. Raises PayloadTooLarge as soon as it
    exceeds `limit` bytes, without keeping more: a Content-Length over the limit is
    refused before reading anything, and a smaller (or absent, chunked) one is not
    trusted, the bytes are counted."""
    declared = request.headers.get("content-length")
    too_large = f"request body is larger than {limit} bytes"
    with contextlib.suppress(ValueError):  # a malformed header: count the bytes instead
        if declared is not None and int(declared) > limit:
            raise PayloadTooLarge(too_large)
    chunks: list[bytes] = []
    size = 0
    async with contextlib.aclosing(request.stream()) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(too_large)
            chunks.append(chunk)
    return b"".join(chunks)


# A request refused before its body was read (401, 413, 503) is answered with
# "Connection: close". Closing a socket that still holds unread data makes the kernel
# reset the connection, and the client may then lose the answer; so first the rest of
# the body is read and dropped (never kept), up to these caps, as web servers' "lingering
# close" does. A client still sending past them gets the reset.
_DRAIN_MAX_BYTES = 64 * 1024 * 1024
_DRAIN_MAX_S = 2.0


async def refuse(request: Request, exc: InferenceError) -> JSONResponse:
    """Answer `exc` and close the connection, after dropping the unread rest of the body
    (within the caps above). Precondition: the body may be partly read, not kept."""
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        declared = 0
    if declared > _DRAIN_MAX_BYTES:
        return error_response(exc, close=True)  # too large to be worth draining
    dropped = 0
    # RuntimeError: Starlette's "Stream consumed", the body had already been read to its end.
    with contextlib.suppress(TimeoutError, ClientDisconnect, RuntimeError):
        async with asyncio.timeout(_DRAIN_MAX_S), contextlib.aclosing(request.stream()) as rest:
            async for chunk in rest:
                dropped += len(chunk)
                if dropped > _DRAIN_MAX_BYTES:
                    break
    return error_response(exc, close=True)


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
    answers while the engine loads; /ready and generation answer 503 until it is up.

    `worker_factory` (default `Worker.start`) returns the started worker; the benchmark
    passes its own, tests of the HTTP layer pass a stand-in.
    """
    state: dict[str, Any] = {"worker": None, "error": None, "limits": None}
    window_s = settings.coalesce_ms / 1000.0
    api_key = settings.api_key.encode()
    # Parsing and validation (JSON, then image decoding): a few threads so one large
    # multimodal body does not hold up the others. Rendering and tokenising prompts: one
    # thread, like vLLM's own front end (a Hugging Face tokenizer is not safe to
    # reconfigure while another thread encodes).
    parse_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="inference-parse")
    prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference-prepare")

    def worker_or_503() -> Worker:
        worker: Worker | None = state["worker"]
        if worker is None:
            reason = state["error"] or "the engine is still starting"
            raise InferenceUnavailable(str(reason))
        return worker

    def limits_for(worker: Worker) -> Limits:
        """Validation limits for the loaded model (images only on a multimodal one)."""
        if state["limits"] is None:
            state["limits"] = Limits(
                max_tokens_limit=settings.max_tokens_limit,
                default_max_tokens=settings.default_max_tokens,
                max_images=settings.max_images_per_request,
                max_image_bytes=settings.max_image_bytes,
                max_image_pixels=settings.max_image_pixels,
                class_max_tokens=settings.class_max_tokens,
                accepts_images=worker.multimodal,
                max_model_len=worker.max_model_len,
            )
        return state["limits"]

    def authorized(request: Request) -> bool:
        if not api_key:  # loopback only (config.Settings enforces it): callers are trusted
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key)

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """`handler`, answered with 401 (before anything else) when the key is missing."""

        async def route(request: Request) -> Response:
            if not authorized(request):
                return await refuse(
                    request, Unauthorized("missing or wrong API key (Authorization: Bearer <key>)")
                )
            return await handler(request)

        return route

    async def chat_completions(request: Request) -> Response:
        body_read = False
        try:
            worker = worker_or_503()
            limits = limits_for(worker)
            raw = await read_body(request, limits.max_body_bytes)
            body_read = True
            loop = asyncio.get_running_loop()
            chat = await loop.run_in_executor(parse_pool, parse_chat_body, raw, limits)
            del raw  # the body may be tens of MB (images); the request outlives it
            prepared = await loop.run_in_executor(prepare_pool, worker.prepare, chat)
            gen = _Generation(worker.generate(prepared))
            try:
                first = await _until_disconnect(request, gen.get())
            except BaseException:
                gen.cancel()
                raise
        except InferenceError as exc:
            return error_response(exc) if body_read else await refuse(request, exc)
        except (ConnectionAbortedError, ClientDisconnect):
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
        entry = {"id": name, "object": "model", "created": 0, "owned_by": "exocortex"}
        if worker is not None:
            # Not in OpenAI's schema: whether requests may carry images (a multimodal core).
            entry["accepts_images"] = worker.multimodal
        return JSONResponse({"object": "list", "data": [entry]})

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
                if worker_factory is None:
                    from inference.engine import Worker  # imports vLLM

                    state["worker"] = await Worker.start(settings)
                else:
                    state["worker"] = await worker_factory(settings)
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
            parse_pool.shutdown(wait=False, cancel_futures=True)
            prepare_pool.shutdown(wait=False, cancel_futures=True)
            if state["worker"] is not None:
                state["worker"].shutdown()

    # /health stays open (container health checks send no key; it reveals nothing and
    # costs nothing). /ready runs a generation and /metrics and /v1/load describe the
    # traffic: with a key configured they need it like the API does.
    routes = [
        Route("/v1/chat/completions", guarded(chat_completions), methods=["POST"]),
        Route("/v1/models", guarded(models), methods=["GET"]),
        Route("/v1/load", guarded(load), methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", guarded(ready), methods=["GET"]),
        Route("/metrics", guarded(metrics), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
