"""Benchmark: our scheduler vs plain vLLM FIFO under a chat + grading flood, and the HTTP
API's overhead. One process, one engine (packaged SmolLM2-135M-Instruct), same prompts.

    .venv/bin/python bench/bench_inference.py [--quick]

Scenarios (see docs/inference.md for how to read them):
 1. chat alone (Poisson arrivals) -> p50/p95 TTFT;
 2. chat + grading flood through our scheduler (Worker.generate);
 3. the same mixed load straight to AsyncLLM, FIFO (all requests the same priority);
 4. grading throughput alone vs in the mix;
 5. tokens/s through the HTTP API vs AsyncLLM directly.
Then a sweep of the scheduler's main knob (batch_inflight) and, for the baseline, of a
fixed cap on grading requests in flight. Prints a table; writes bench/results/*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from inference.hardware import cpu_has_native_bf16  # noqa: E402 - needs ROOT on sys.path

# A narrow sweep point runs a flood far slower than the defaults assume: queued grading must
# not expire (that would end the run with DeadlineExceeded instead of a figure).
os.environ.setdefault("INFERENCE_DEADLINE_GRADING_MS", str(6 * 3600 * 1000))

SYSTEM = (
    "You are Exocortex, a patient tutor for secondary-school students. Lead with questions, "
    "never give the final answer before the learner has tried, keep replies short, and "
    "answer in the learner's language. Use the lesson below; if a question is outside it, "
    "say so. Check every calculation with the tools instead of trusting memory. "
) * 2
LESSONS = [
    "Lesson: Photosynthesis. Plants turn light energy into chemical energy. In the "
    "chloroplasts, chlorophyll absorbs light; water is split, releasing oxygen, and carbon "
    "dioxide is fixed into glucose in the Calvin cycle. The overall equation is 6 CO2 + "
    "6 H2O -> C6H12O6 + 6 O2. Rate depends on light intensity, CO2 concentration and "
    "temperature; each can become the limiting factor. " * 2,
    "Lesson: Linear equations. A linear equation in one unknown has the form ax + b = c. "
    "To solve it, undo operations in reverse order: subtract b from both sides, then "
    "divide by a. Always check the solution by substituting it back. Equations with the "
    "unknown on both sides are first rearranged so that x appears on one side only. " * 2,
]
QUESTIONS = [
    "Why do plants need light?",
    "How do I solve 3x + 5 = 20?",
    "What is the limiting factor on a cold day?",
    "Can you check my answer x = 4 for 2x + 1 = 9?",
    "What gas do plants release?",
    "What should I do first with 5x - 2 = 13?",
]
RUBRIC = (
    "You grade short answers. Rubric: 2 points if the answer names the correct process and "
    "explains the role of light; 1 point if it names the process only; 0 otherwise. Be "
    "strict about units and vocabulary. Return a score and two sentences of feedback that "
    "point to the lesson section the learner should reread. Never reveal the model answer. "
) * 4
ANSWERS = [
    "Plants use light to make sugar from carbon dioxide and water, this is photosynthesis.",
    "The plant eats soil to grow bigger.",
    "Photosynthesis happens in chloroplasts and gives off oxygen.",
    "Light splits water and the energy makes glucose in the Calvin cycle.",
]

CHAT_MAX_TOKENS = 32
GRADING_MAX_TOKENS = 128


def chat_messages(i: int) -> list[dict[str, str]]:
    """Stable system prompt -> course context -> learner memory -> conversation."""
    learner = i % 8
    memory = f"Learner memory: learner {learner} prefers short hints; struggled with step {i % 3}."
    return [
        {"role": "system", "content": SYSTEM + "\n\n" + LESSONS[learner % 2] + "\n\n" + memory},
        {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]},
    ]


def grading_messages(i: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": RUBRIC},
        {"role": "user", "content": f"Answer #{i}: {ANSWERS[i % len(ANSWERS)]}"},
    ]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclasses.dataclass
class Result:
    chat_ttft_ms: list[float]
    grading_tokens: int
    grading_seconds: float
    prefix_hit_rate: float = 0.0  # engine prefix-cache hits / queried prompt tokens

    @property
    def p50(self) -> float:
        return pct(self.chat_ttft_ms, 50)

    @property
    def p95(self) -> float:
        return pct(self.chat_ttft_ms, 95)

    @property
    def grading_tps(self) -> float:
        return self.grading_tokens / self.grading_seconds if self.grading_seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "chat_ttft_ms": [round(x, 2) for x in self.chat_ttft_ms],
            "chat_count": len(self.chat_ttft_ms),
            "chat_p50_ttft_ms": round(self.p50, 2),
            "chat_p95_ttft_ms": round(self.p95, 2),
            "grading_tokens": self.grading_tokens,
            "grading_seconds": round(self.grading_seconds, 3),
            "grading_tokens_per_s": round(self.grading_tps, 2),
            "prefix_cache_hit_rate": round(self.prefix_hit_rate, 3),
        }


# A sender runs one request and returns (ttft_s, generated_tokens).
Sender = Callable[[str, int, int], Awaitable[tuple[float, int]]]


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    async def start(self) -> None:
        from inference.config import Settings
        from inference.engine import Worker

        self.settings = Settings.from_env()
        self.worker = await Worker.start(self.settings)
        self.base_policy = self.worker.scheduler.policy
        self.engine = self.worker.engine
        self.tok = self.worker.tokenizer

    def ids(self, messages: list[dict[str, str]]) -> list[int]:
        text = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self.tok.encode(text, add_special_tokens=False))

    def use_policy(self, **policy: Any) -> None:
        """Fresh scheduler with the configured policy plus `policy` (between runs, idle)."""
        from inference.scheduler import Scheduler

        self.worker.scheduler = Scheduler(dataclasses.replace(self.base_policy, **policy))

    # --- senders ---------------------------------------------------------------------------

    async def via_worker(self, kind: str, i: int, max_tokens: int) -> tuple[float, int]:
        from inference.protocol import Limits, parse_chat_request

        messages = chat_messages(i) if kind == "chat" else grading_messages(i)
        body = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.7,
            "ignore_eos": kind == "grading",
            "exocortex": {"class": kind, "tenant": f"school-{i % 3}"},
        }
        prepared = self.worker.prepare(parse_chat_request(body, Limits()))
        t0 = time.perf_counter()
        ttft = 0.0
        n = 0
        async for delta in self.worker.generate(prepared):
            if not ttft:
                ttft = time.perf_counter() - t0
            n = delta.completion_tokens
        return ttft, n

    async def direct(
        self, kind: str, i: int, max_tokens: int, priority: int = 0
    ) -> tuple[float, int]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        messages = chat_messages(i) if kind == "chat" else grading_messages(i)
        params = SamplingParams(
            max_tokens=max_tokens,
            temperature=0.7,
            ignore_eos=kind == "grading",
            output_kind=RequestOutputKind.DELTA,
        )
        prompt = {"prompt_token_ids": self.ids(messages)}
        t0 = time.perf_counter()
        ttft = 0.0
        n = 0
        rid = f"bench-{uuid.uuid4().hex}"
        async for out in self.engine.generate(prompt, params, rid, priority=priority):
            if not ttft and out.outputs[0].token_ids:
                ttft = time.perf_counter() - t0
            n += len(out.outputs[0].token_ids)
        return ttft, n

    # --- scenarios -------------------------------------------------------------------------

    async def fresh(self) -> None:
        await self.engine.reset_prefix_cache()
        await asyncio.sleep(0.2)

    async def run(
        self,
        send: Sender,
        *,
        chats: int | None,
        grading: int,
        grading_cap: int | None = None,
        grading_send: Sender | None = None,
    ) -> Result:
        """Chat arrivals (Poisson, fixed seed) and/or a grading flood submitted at t=0.

        With a flood, chats keep arriving until the flood is done (chats=None); alone,
        exactly `chats` chats are sent.
        """
        await self.fresh()
        stats = self.worker.engine_stats
        queries0, hits0 = stats.prefix_queries, stats.prefix_hits
        rng = random.Random(7)
        gsend = grading_send or send
        ttfts: list[float] = []
        flood_done = asyncio.Event()
        cap = asyncio.Semaphore(grading_cap) if grading_cap else None
        tokens = 0

        async def one_grading(i: int) -> None:
            nonlocal tokens
            if cap is None:
                _, n = await gsend("grading", i, GRADING_MAX_TOKENS)
            else:
                async with cap:
                    _, n = await gsend("grading", i, GRADING_MAX_TOKENS)
            tokens += n

        async def flood() -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*(one_grading(i) for i in range(grading)))
            flood_done.set()
            return time.perf_counter() - t0

        async def one_chat(i: int) -> None:
            ttft, _ = await send("chat", i, CHAT_MAX_TOKENS)
            ttfts.append(ttft * 1000)

        async def chat_arrivals() -> None:
            tasks = []
            i = 0
            if grading:
                await asyncio.sleep(1.0)  # let the flood fill the engine first
            while (chats is None and not flood_done.is_set()) or (chats is not None and i < chats):
                tasks.append(asyncio.ensure_future(one_chat(i)))
                i += 1
                await asyncio.sleep(rng.expovariate(self.args.chat_rate))
            await asyncio.gather(*tasks)

        jobs: list[Awaitable[Any]] = []
        if grading:
            jobs.append(flood())
        if chats != 0:
            jobs.append(chat_arrivals())
        results = await asyncio.gather(*jobs)
        seconds = results[0] if grading else 0.0
        await asyncio.sleep(0.2)  # the last step's stats reach the logger
        queries = stats.prefix_queries - queries0
        hit_rate = (stats.prefix_hits - hits0) / queries if queries else 0.0
        return Result(ttfts, tokens, seconds, hit_rate)

    async def overhead(self) -> dict[str, Any]:
        """Same batch of streamed requests, via HTTP (with the SSE client in this process)
        vs straight to AsyncLLM. Tokens/s = generated tokens / wall time."""
        import httpx
        import uvicorn

        from inference.api import create_app

        async def existing(_: Any) -> Any:
            return self.worker

        port = _free_port()
        app = create_app(self.settings, worker_factory=existing)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        serve_task = asyncio.ensure_future(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes no event for this
            await asyncio.sleep(0.05)
        n, max_tokens = self.args.overhead_requests, 128

        async def http_one(client: httpx.AsyncClient, i: int) -> int:
            body = {
                "messages": grading_messages(i),
                "max_tokens": max_tokens,
                "temperature": 0.7,
                "ignore_eos": True,
                "stream": True,
                "stream_options": {"include_usage": True},
                "exocortex": {"class": "chat"},
            }
            tokens = 0
            async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
                resp.raise_for_status()
                async for line in resp.aiter_lines():
                    if line.startswith("data: {") and '"usage"' in line:
                        tokens = json.loads(line[6:])["usage"]["completion_tokens"]
            return tokens

        figures: dict[str, list[float]] = {"direct": [], "http": []}
        key = self.settings.api_key
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=120,
            limits=httpx.Limits(max_connections=n),
            headers={"Authorization": f"Bearer {key}"} if key else None,
        ) as client:
            for _ in range(self.args.overhead_rounds):
                for mode in ("direct", "http"):
                    await self.fresh()
                    t0 = time.perf_counter()
                    if mode == "direct":
                        counts = await asyncio.gather(
                            *(self.direct("grading", i, max_tokens) for i in range(n))
                        )
                        total = sum(c for _, c in counts)
                    else:
                        total = sum(await asyncio.gather(*(http_one(client, i) for i in range(n))))
                    figures[mode].append(total / (time.perf_counter() - t0))
        server.should_exit = True
        await serve_task
        direct = statistics.median(figures["direct"])
        http = statistics.median(figures["http"])
        return {
            "requests": n,
            "max_tokens": max_tokens,
            "direct_tokens_per_s": [round(x, 1) for x in figures["direct"]],
            "http_tokens_per_s": [round(x, 1) for x in figures["http"]],
            "direct_median": round(direct, 1),
            "http_median": round(http, 1),
            "overhead_fraction": round(1 - http / direct, 4),
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _git_commit() -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    return "unknown"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    h = Harness(args)
    t_start = time.perf_counter()
    await h.start()
    print(f"engine up in {time.perf_counter() - t_start:.0f}s", flush=True)
    grading = args.grading

    async def sched(kind: str, i: int, mt: int) -> tuple[float, int]:
        return await h.via_worker(kind, i, mt)

    async def fifo(kind: str, i: int, mt: int) -> tuple[float, int]:
        return await h.direct(kind, i, mt, priority=0)

    async def vllm_priority(kind: str, i: int, mt: int) -> tuple[float, int]:
        return await h.direct(kind, i, mt, priority=1 if kind == "chat" else 2)

    # Warm-up (compilation of new shapes, allocator) so the first measured run is not taxed.
    await h.run(fifo, chats=4, grading=8)

    out: dict[str, Any] = {}
    h.use_policy()
    out["chat_alone"] = await h.run(sched, chats=args.chats, grading=0)
    out["chat_alone_direct"] = await h.run(fifo, chats=args.chats, grading=0)
    print("chat alone done", flush=True)
    out["grading_alone_fifo"] = await h.run(fifo, chats=0, grading=grading)
    out["grading_alone_scheduler"] = await h.run(sched, chats=0, grading=grading)
    print("grading alone done", flush=True)
    out["mix_scheduler"] = await h.run(sched, chats=None, grading=grading)
    out["mix_fifo"] = await h.run(fifo, chats=None, grading=grading)
    out["mix_vllm_priority"] = await h.run(vllm_priority, chats=None, grading=grading)
    print("mixed runs done", flush=True)

    # Sweep the main knob: batch width while interactive traffic is active. Grading
    # alone never sees a chat, so it runs at full width whatever this knob says.
    sweep_sched: list[dict[str, Any]] = []
    variants = [(k, 0) for k in args.sweep] + [(k, k) for k in args.sweep_hold]
    for k, while_waiting in variants:
        h.use_policy(batch_inflight_active=k, batch_inflight_interactive=while_waiting)
        mix = await h.run(sched, chats=None, grading=grading)
        sweep_sched.append({"active": k, "while_waiting": while_waiting, "mix": mix})
        print(f"sweep scheduler active={k} while_waiting={while_waiting} done", flush=True)
    h.use_policy()
    sweep_fifo: list[dict[str, Any]] = []
    for cap in args.caps:
        mix = await h.run(fifo, chats=None, grading=grading, grading_cap=cap or None)
        sweep_fifo.append({"grading_cap": cap or "none", "mix": mix})
        print(f"sweep fifo cap={cap} done", flush=True)
    overhead = await h.overhead()
    h.worker.shutdown()

    alone = out["chat_alone"]
    base_alone = out["chat_alone_direct"]
    g_alone = out["grading_alone_scheduler"].grading_tps
    report: dict[str, Any] = {
        "chat_p95_ttft_ratio_scheduler": round(out["mix_scheduler"].p95 / alone.p95, 3),
        "chat_p95_ttft_ratio_fifo": round(out["mix_fifo"].p95 / base_alone.p95, 3),
        "chat_p95_ttft_ratio_vllm_priority": round(
            out["mix_vllm_priority"].p95 / base_alone.p95, 3
        ),
        "grading_throughput_ratio": round(out["mix_scheduler"].grading_tps / g_alone, 3),
        "grading_throughput_ratio_vs_fifo_alone": round(
            out["mix_scheduler"].grading_tps / out["grading_alone_fifo"].grading_tps, 3
        ),
        "grading_throughput_ratio_fifo": round(
            out["mix_fifo"].grading_tps / out["grading_alone_fifo"].grading_tps, 3
        ),
        "overhead_fraction": overhead["overhead_fraction"],
        "prefix_cache_hit_rate_chat_alone": round(alone.prefix_hit_rate, 3),
        "prefix_cache_hit_rate_mix_scheduler": round(out["mix_scheduler"].prefix_hit_rate, 3),
        "runs": {k: v.to_json() for k, v in out.items()},
        "sweep_scheduler": [
            {
                "batch_inflight_active": s["active"],
                "batch_inflight_interactive": s["while_waiting"],
                "chat_p95_ttft_ratio": round(s["mix"].p95 / alone.p95, 3),
                "grading_throughput_ratio": round(s["mix"].grading_tps / g_alone, 3),
                "grading_tokens_per_s_mix": round(s["mix"].grading_tps, 1),
                "mix": s["mix"].to_json(),
            }
            for s in sweep_sched
        ],
        "sweep_fifo_cap": [
            {
                "grading_cap": s["grading_cap"],
                "chat_p95_ttft_ratio": round(s["mix"].p95 / base_alone.p95, 3),
                "grading_throughput_ratio": round(
                    s["mix"].grading_tps / out["grading_alone_fifo"].grading_tps, 3
                ),
                "grading_tokens_per_s_mix": round(s["mix"].grading_tps, 1),
                "mix": s["mix"].to_json(),
            }
            for s in sweep_fifo
        ],
        "overhead": overhead,
        "workload": {
            "chat_rate_per_s": args.chat_rate,
            "chat_max_tokens": CHAT_MAX_TOKENS,
            "chat_prompt_tokens": len(h.ids(chat_messages(0))),
            "grading_requests": grading,
            "grading_max_tokens": GRADING_MAX_TOKENS,
            "grading_prompt_tokens": len(h.ids(grading_messages(0))),
            "chats_alone": args.chats,
        },
        "settings": {
            "batch_inflight": h.settings.batch_inflight,
            "batch_inflight_active": h.settings.batch_inflight_active,
            "active_window_s": h.settings.active_window_s,
            "batch_inflight_interactive": h.settings.batch_inflight_interactive,
            "preempt": h.settings.preempt,
            "max_num_seqs": h.settings.max_num_seqs,
            "max_batched_tokens": h.settings.max_batched_tokens,
            "block_size": h.settings.block_size,
            "coalesce_ms": h.settings.coalesce_ms,
            "dtype": str(h.worker.engine.model_config.dtype).removeprefix("torch."),
            "vllm_cpu_env": {k: v for k, v in os.environ.items() if k.startswith("VLLM_CPU")},
        },
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "native_bf16": cpu_has_native_bf16(),
            "gpu": None,
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "model": h.worker.model_name,
        "vllm_version": __import__("vllm").__version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
    }
    return report


def print_table(r: dict[str, Any]) -> None:
    runs = r["runs"]
    print("\n== chat TTFT (ms) and grading throughput (tokens/s) ==")
    print(
        f"{'run':32} {'chats':>6} {'p50':>8} {'p95':>8} {'grading tok/s':>14} {'prefix hits':>12}"
    )
    for name, v in runs.items():
        print(
            f"{name:32} {v['chat_count']:>6} {v['chat_p50_ttft_ms']:>8.1f} "
            f"{v['chat_p95_ttft_ms']:>8.1f} {v['grading_tokens_per_s']:>14.1f} "
            f"{v['prefix_cache_hit_rate']:>12.1%}"
        )
    print("\n== headline ==")
    for key in (
        "chat_p95_ttft_ratio_scheduler",
        "chat_p95_ttft_ratio_fifo",
        "chat_p95_ttft_ratio_vllm_priority",
        "grading_throughput_ratio",
        "grading_throughput_ratio_vs_fifo_alone",
        "grading_throughput_ratio_fifo",
        "overhead_fraction",
        "prefix_cache_hit_rate_chat_alone",
        "prefix_cache_hit_rate_mix_scheduler",
    ):
        print(f"{key:42} {r[key]}")
    print("\n== sweep: INFERENCE_BATCH_INFLIGHT_ACTIVE (chat p95 ratio vs grading throughput) ==")
    for s in r["sweep_scheduler"]:
        mode = "preempt" if s["batch_inflight_interactive"] == 0 else "hold"
        print(
            f"active={s['batch_inflight_active']:>3} {mode:8} "
            f"chat p95 x{s['chat_p95_ttft_ratio']:<6} "
            f"grading {s['grading_throughput_ratio']:.2f} of alone "
            f"({s['grading_tokens_per_s_mix']:.0f} tok/s)"
        )
    print("== sweep: baseline FIFO with a fixed cap on grading in flight ==")
    for s in r["sweep_fifo_cap"]:
        print(
            f"grading_cap={s['grading_cap']!s:>5}  chat p95 x{s['chat_p95_ttft_ratio']:<6} "
            f"grading {s['grading_throughput_ratio']:.2f} of FIFO alone "
            f"({s['grading_tokens_per_s_mix']:.0f} tok/s)"
        )
    o = r["overhead"]
    print(
        f"\n== overhead: direct {o['direct_median']} tok/s, HTTP {o['http_median']} tok/s, "
        f"overhead {o['overhead_fraction']:.1%} =="
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--chat-rate", type=float, default=1.0, help="chats per second")
    parser.add_argument("--chats", type=int, default=40, help="chats in the chat-alone run")
    parser.add_argument("--grading", type=int, default=96, help="grading requests per flood")
    parser.add_argument(
        "--sweep", type=int, nargs="*", default=[2, 4, 8, 16, 32], help="active batch width"
    )
    parser.add_argument(
        "--sweep-hold", type=int, nargs="*", default=[4, 8], help="active width, no preemption"
    )
    parser.add_argument("--caps", type=int, nargs="*", default=[8, 32, 0])
    parser.add_argument("--overhead-requests", type=int, default=16)
    parser.add_argument("--overhead-rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.quick:
        args.chats, args.grading, args.sweep, args.caps = 8, 16, [8], [8]
        args.sweep_hold = []
        args.overhead_requests, args.overhead_rounds = 4, 1
    report = asyncio.run(main_async(args))
    print_table(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = "inference-quick" if args.quick else "inference"
    path = args.out / f"{name}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
