"""The worker: vLLM's AsyncLLM with our scheduler in front of it.

`Worker.generate()` is the only way requests reach the engine. It queues a ticket with
the scheduler, waits for admission, runs the request on AsyncLLM with the class as vLLM
priority, and honours the scheduler's preemption orders: a preempted request is aborted
in the engine and later resumed with its generated tokens appended to the prompt (the
prefix cache makes that re-prefill cheap; stop strings, structured output and images
make a request non-preemptible because their state cannot be rebuilt from tokens).

Importing this module imports vLLM; keep `inference.client` free of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

from vllm import SamplingParams
from vllm.config import StructuredOutputsConfig, VllmConfig
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import VLLMClientError
from vllm.platforms import current_platform
from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams
from vllm.v1.engine.async_llm import AsyncLLM
from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError
from vllm.v1.metrics.loggers import StatLoggerBase
from vllm.v1.metrics.stats import IterationStats, MultiModalCacheStats, SchedulerStats

from inference.config import Settings
from inference.errors import (
    BadRequest,
    DeadlineExceeded,
    InferenceBusy,
    InferenceError,
    InferenceUnavailable,
)
from inference.hardware import resolve_dtype
from inference.metrics import Metrics
from inference.model_store import resolve_model
from inference.protocol import ChatRequest, Delta
from inference.scheduler import QueueFull, RequestClass, Scheduler, SchedulerPolicy, Ticket

logger = logging.getLogger(__name__)


@dataclass
class EngineStats:
    """Figures the engine core reports each step (through our stat logger)."""

    prefix_queries: int = 0
    prefix_hits: int = 0
    core_running: int = 0
    core_waiting: int = 0


def _stat_logger_factory(stats: EngineStats) -> type[StatLoggerBase]:
    """A vLLM stat logger class that copies scheduler stats into `stats`."""

    class _Recorder(StatLoggerBase):
        def __init__(self, vllm_config: VllmConfig, engine_index: int = 0) -> None:
            self.engine_index = engine_index

        def record(
            self,
            scheduler_stats: SchedulerStats | None,
            iteration_stats: IterationStats | None,
            mm_cache_stats: MultiModalCacheStats | None = None,
            engine_idx: int = 0,
        ) -> None:
            if scheduler_stats is None:
                return
            stats.core_running = scheduler_stats.num_running_reqs
            stats.core_waiting = scheduler_stats.num_waiting_reqs
            stats.prefix_queries += scheduler_stats.prefix_cache_stats.queries
            stats.prefix_hits += scheduler_stats.prefix_cache_stats.hits

        def log_engine_initialized(self) -> None:
            pass

    return _Recorder


def engine_args(settings: Settings, model_path: str) -> AsyncEngineArgs:
    """vLLM engine arguments for `settings`. Priority scheduling is what lets our classes
    order vLLM's waiting queue; prefix caching is what makes preemption cheap."""
    kwargs: dict[str, Any] = {}
    if settings.kv_cache_gb > 0:
        kwargs["kv_cache_memory_bytes"] = int(settings.kv_cache_gb * (1 << 30))
    if settings.block_size > 0:
        kwargs["block_size"] = settings.block_size
    return AsyncEngineArgs(
        model=model_path,
        served_model_name=[settings.served_model_name] if settings.served_model_name else None,
        dtype=resolve_dtype(settings.dtype, on_cpu=current_platform.is_cpu()),
        max_model_len=settings.max_model_len,
        max_num_seqs=settings.max_num_seqs,
        # The step budget must still fit one whole prompt when chunking is unavailable.
        max_num_batched_tokens=max(settings.max_batched_tokens, settings.max_num_seqs),
        enable_prefix_caching=True,
        scheduling_policy="priority",
        enforce_eager=settings.enforce_eager,
        gpu_memory_utilization=settings.gpu_memory_utilization,
        limit_mm_per_prompt={"image": settings.max_images_per_request},
        # Compact JSON only: with free whitespace a small model can pad until max_tokens
        # and return unparseable JSON. (An engine-wide setting in vLLM.)
        structured_outputs_config=StructuredOutputsConfig(
            backend="xgrammar", disable_any_whitespace=True
        ),
        disable_log_stats=True,  # our stat logger still receives stats
        **kwargs,
    )


@dataclass
class Prepared:
    """A validated request rendered to engine input."""

    chat: ChatRequest
    prompt_token_ids: list[int]

    @property
    def preemptible(self) -> bool:
        c = self.chat
        return not (c.images or c.stop or c.json_schema is not None or c.json_object)


@dataclass(eq=False)
class _Handle:
    ticket: Ticket
    admitted: asyncio.Event = field(default_factory=asyncio.Event)
    expired: bool = False
    preempting: bool = False
    engine_id: str | None = None


class Worker:
    """Owns the engine and the scheduler. Create with `await Worker.start(settings)`.

    All methods run on one asyncio loop; scheduler calls need no lock because they never
    await.
    """

    def __init__(
        self, settings: Settings, engine: AsyncLLM, model_name: str, stats: EngineStats
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.model_name = model_name
        self.engine_stats = stats
        self.tokenizer = engine.get_tokenizer()
        self.multimodal = bool(engine.model_config.is_multimodal_model)
        self.max_model_len = int(engine.model_config.max_model_len)
        self.scheduler = Scheduler(
            SchedulerPolicy(
                batch_inflight=settings.batch_inflight,
                batch_inflight_active=settings.batch_inflight_active,
                batch_inflight_interactive=settings.batch_inflight_interactive,
                active_window_s=settings.active_window_s,
                interactive_inflight=settings.interactive_inflight,
                preempt=settings.preempt,
                queue_limit=settings.queue_limit,
                tenant_weights=settings.tenant_weights,
            )
        )
        self.metrics = Metrics()
        self._handles: dict[str, _Handle] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._mirrored = (0, 0)
        self._tasks: set[asyncio.Future[None]] = set()
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def start(cls, settings: Settings) -> Worker:
        """Resolve (and if needed convert) the model, then start the engine."""
        model_path = await asyncio.to_thread(resolve_model, settings.model, settings.model_cache)
        stats = EngineStats()
        args = engine_args(settings, model_path)
        engine = AsyncLLM.from_engine_args(args, stat_loggers=[_stat_logger_factory(stats)])
        name = settings.served_model_name or settings.model or "SmolLM2-135M-Instruct"
        return cls(settings, engine, name, stats)

    def shutdown(self) -> None:
        self.engine.shutdown()

    # --- request preparation -------------------------------------------------------------

    def prepare(self, chat: ChatRequest) -> Prepared:
        """Render the chat template and check the request against this model.

        Raises BadRequest for images on a text-only model or a prompt that does not fit.
        """
        if chat.model is not None and chat.model not in (self.model_name, ""):
            raise BadRequest(
                f"unknown model {chat.model!r}; this worker serves {self.model_name!r}"
            )
        if chat.images and not self.multimodal:
            raise BadRequest(
                f"model {self.model_name!r} does not accept images; "
                "send text only or configure a multimodal model (INFERENCE_MODEL)"
            )
        try:
            text = self.tokenizer.apply_chat_template(
                chat.messages, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # template errors are caused by the message layout
            raise BadRequest(f"messages do not fit the model's chat template: {exc}") from None
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        if len(ids) + chat.max_tokens > self.max_model_len:
            raise BadRequest(
                f"prompt is {len(ids)} tokens and max_tokens is {chat.max_tokens}; "
                f"together they exceed the context limit of {self.max_model_len} tokens"
            )
        return Prepared(chat=chat, prompt_token_ids=ids)

    def _engine_input(self, req: Prepared, generated: list[int]) -> dict[str, Any]:
        if req.chat.images:
            # vLLM's multimodal processor finds the image placeholder tokens in the ids and
            # expands each into the model's image tokens (so the engine's prompt is longer
            # than ours). Ids, not text: vLLM would tokenize text with special tokens added.
            return {
                "prompt_token_ids": req.prompt_token_ids,
                "multi_modal_data": {"image": req.chat.images},
            }
        return {"prompt_token_ids": req.prompt_token_ids + generated}

    @staticmethod
    def _sampling(req: Prepared, done: int) -> SamplingParams:
        c = req.chat
        structured = None
        if c.json_schema is not None:
            structured = StructuredOutputsParams(json=c.json_schema)
        elif c.json_object:
            structured = StructuredOutputsParams(json_object=True)
        return SamplingParams(
            max_tokens=c.max_tokens - done,
            min_tokens=max(0, c.min_tokens - done),
            temperature=c.temperature,
            top_p=c.top_p,
            seed=c.seed,
            stop=c.stop or None,
            ignore_eos=c.ignore_eos,
            structured_outputs=structured,
            output_kind=RequestOutputKind.DELTA,
        )

    # --- scheduling ----------------------------------------------------------------------

    def _now(self) -> float:
        return self._loop.time()

    def _kick(self) -> None:
        """Apply the scheduler's current decision. Never awaits."""
        decision = self.scheduler.schedule(self._now())
        for ticket in decision.expired:
            handle = self._handles.get(ticket.id)
            if handle is not None:
                handle.expired = True
                handle.admitted.set()
        for ticket in decision.preempt:
            handle = self._handles.get(ticket.id)
            if handle is None:
                continue
            handle.preempting = True
            self.metrics.preemptions.labels(ticket.cls.label).inc()
            if handle.engine_id is not None:
                self.metrics.engine_aborts.labels("preempted").inc()
                self._background(self.engine.abort(handle.engine_id))
        for ticket in decision.admit:
            handle = self._handles.get(ticket.id)
            if handle is not None:
                handle.admitted.set()
        self._arm_timer()

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task we keep a reference to (the loop only holds weak ones)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm_timer(self) -> None:
        """Wake up when the scheduler needs it (a queued deadline, the end of the active
        window) so expiry and re-widening do not wait for the next request."""
        wakeup = self.scheduler.next_wakeup()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if wakeup is not None:
            self._timer = self._loop.call_at(max(wakeup, self._now()) + 1e-3, self._kick)

    # --- generation ----------------------------------------------------------------------

    async def generate(self, req: Prepared) -> AsyncIterator[Delta]:
        """Stream deltas for a prepared request.

        Raises InferenceBusy (queue full), DeadlineExceeded (expired while queued),
        BadRequest (engine rejected the input) or InferenceUnavailable (engine dead).
        Closing the iterator early (client gone) aborts the engine request.
        """
        if self.engine.errored:
            raise InferenceUnavailable("the engine has failed; the worker needs a restart")
        c = req.chat
        label = c.request_class.label
        now = self._now()
        deadline_ms = c.deadline_ms or self.settings.deadline_ms[c.request_class]
        ticket = Ticket(
            id=c.request_id,
            cls=c.request_class,
            tenant=c.tenant,
            cost=float(len(req.prompt_token_ids) + c.max_tokens),
            deadline=now + deadline_ms / 1000.0,
            preemptible=req.preemptible,
        )
        try:
            self.scheduler.submit(ticket, now)
        except QueueFull as exc:
            self.metrics.requests.labels(label, "rejected").inc()
            raise InferenceBusy(str(exc), exc.retry_after) from None
        handle = _Handle(ticket)
        self._handles[ticket.id] = handle
        self._kick()

        generated: list[int] = []
        emitted_text = ""
        cached_tokens = 0
        # Reported as usage: the engine's count, which includes expanded image tokens.
        prompt_tokens = len(req.prompt_token_ids)
        outcome = "error"
        first_token_at: float | None = None
        attempt = 0
        finished = False
        try:
            while not finished:
                await handle.admitted.wait()
                handle.admitted.clear()
                if handle.expired:
                    outcome = "expired"
                    raise DeadlineExceeded(
                        f"{label} request waited longer than its deadline of {deadline_ms} ms "
                        "in the queue and was not run"
                    )
                if handle.preempting:  # preempted before it even started this attempt
                    handle.preempting = False
                    self.scheduler.on_preempted(ticket)
                    self._kick()
                    continue
                attempt += 1
                handle.engine_id = f"{ticket.id}-{attempt}"
                resumed = len(generated)  # a resumed attempt's prompt ends with these
                stream = self.engine.generate(
                    self._engine_input(req, generated),
                    self._sampling(req, len(generated)),
                    handle.engine_id,
                    priority=int(c.request_class),
                )
                try:
                    async for out in stream:
                        choice = out.outputs[0]
                        if out.prompt_token_ids is not None:
                            prompt_tokens = len(out.prompt_token_ids) - resumed
                        if attempt == 1 and out.num_cached_tokens:
                            cached_tokens = out.num_cached_tokens
                        aborted = choice.finish_reason == "abort"
                        generated.extend(choice.token_ids)
                        if choice.text:
                            if first_token_at is None:
                                first_token_at = self._now()
                                self.metrics.ttft.labels(label).observe(first_token_at - now)
                                self.scheduler.on_first_token(ticket)
                                self._kick()
                            emitted_text += choice.text
                        if out.finished and not aborted:
                            finished = True
                            outcome = "ok"
                            yield Delta(
                                choice.text,
                                len(generated),
                                finish_reason=choice.finish_reason,
                                prompt_tokens=prompt_tokens,
                                cached_tokens=cached_tokens,
                            )
                        elif choice.text:
                            yield Delta(choice.text, len(generated))
                finally:
                    await stream.aclose()
                if finished:
                    break
                if not handle.preempting:
                    raise InferenceError("the engine aborted the request")
                # Preempted: emit text the detokenizer held back (partial UTF-8), requeue.
                handle.preempting = False
                handle.engine_id = None
                full = self.tokenizer.decode(generated, skip_special_tokens=True)
                if full.startswith(emitted_text) and len(full) > len(emitted_text):
                    tail = full[len(emitted_text) :]
                    emitted_text = full
                    yield Delta(tail, len(generated))
                self.scheduler.on_preempted(ticket)
                self._kick()
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        except VLLMClientError as exc:
            outcome = "bad_request"
            raise BadRequest(str(exc)) from None
        except (EngineDeadError, EngineGenerateError) as exc:
            raise InferenceUnavailable(f"engine failure: {exc!r}") from None
        finally:
            # No awaits here: this may run inside a cancelled scope, where each await
            # raises again and the bookkeeping below would be skipped.
            if handle.engine_id is not None and not finished:
                # Client gone or error: make sure the engine stops working on it.
                self.metrics.engine_aborts.labels(outcome).inc()
                self._background(self.engine.abort(handle.engine_id))
            self._handles.pop(ticket.id, None)
            self.scheduler.on_finished(ticket, self._now())
            self._kick()
            self.metrics.requests.labels(label, outcome).inc()
            self.metrics.generated_tokens.labels(label).inc(len(generated))
            if first_token_at is not None and len(generated) > 1:
                elapsed = self._now() - first_token_at
                if elapsed > 0:
                    self.metrics.tokens_per_second.labels(label).observe(
                        (len(generated) - 1) / elapsed
                    )

    async def ready_probe(self) -> None:
        """Run a real 1-token generation straight on the engine (not through the queues:
        readiness is about the engine, not about load). Raises InferenceUnavailable."""
        if self.engine.errored:
            raise InferenceUnavailable("engine has failed")
        request_id = f"ready-{time.monotonic_ns()}"
        params = SamplingParams(max_tokens=1, temperature=0.0)
        ids = self.tokenizer.encode("ok", add_special_tokens=False) or [0]

        async def _run() -> None:
            async for _ in self.engine.generate({"prompt_token_ids": ids}, params, request_id):
                pass

        try:
            await asyncio.wait_for(_run(), timeout=self.settings.ready_timeout_s)
        except TimeoutError:
            raise InferenceUnavailable(
                f"engine did not produce a token within {self.settings.ready_timeout_s}s"
            ) from None
        except (EngineDeadError, EngineGenerateError) as exc:
            raise InferenceUnavailable(f"engine failure: {exc!r}") from None

    # --- observability -------------------------------------------------------------------

    def refresh_metrics(self) -> None:
        m = self.metrics
        for cls, st in self.scheduler.stats().items():
            m.queue_depth.labels(cls.label).set(st.queued)
            m.running.labels(cls.label).set(st.running)
            m.estimated_wait.labels(cls.label).set(st.estimated_wait_s)
        s = self.engine_stats
        # Mirror the engine's running totals into our counters.
        m.prefix_cache_queries.inc(s.prefix_queries - self._mirrored[0])
        m.prefix_cache_hits.inc(s.prefix_hits - self._mirrored[1])
        self._mirrored = (s.prefix_queries, s.prefix_hits)
        m.prefix_cache_hit_rate.set(s.prefix_hits / s.prefix_queries if s.prefix_queries else 0.0)
        m.engine_unfinished.set(self.engine.get_num_unfinished_requests())
        m.engine_core_running.set(s.core_running)
        m.engine_core_waiting.set(s.core_waiting)

    def load(self) -> dict[str, Any]:
        """Queue depth and estimated wait per class (for the UI's "busy, about 4 s")."""
        return {
            cls.label: {
                "queued": st.queued,
                "running": st.running,
                "estimated_wait_s": round(st.estimated_wait_s, 2),
            }
            for cls, st in self.scheduler.stats().items()
        }


__all__ = ["Delta", "EngineStats", "Prepared", "RequestClass", "Worker", "engine_args"]
