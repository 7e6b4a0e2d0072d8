"""Prometheus metrics of one worker, in their own registry (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_TTFT_BUCKETS = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
_TPS_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200, 300, 500)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge(
            "inference_queue_depth", "Requests queued in the scheduler", ["class"], registry=r
        )
        self.running = Gauge(
            "inference_running", "Requests admitted to the engine", ["class"], registry=r
        )
        self.estimated_wait = Gauge(
            "inference_estimated_wait_seconds",
            "Estimated queueing time for a new request",
            ["class"],
            registry=r,
        )
        self.ttft = Histogram(
            "inference_ttft_seconds",
            "Time from arrival to first token",
            ["class"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.tokens_per_second = Histogram(
            "inference_tokens_per_second",
            "Per-request decode rate after the first token",
            ["class"],
            buckets=_TPS_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "inference_requests",
            "Finished requests by outcome (ok, error, cancelled, expired, rejected, bad_request)",
            ["class", "outcome"],
            registry=r,
        )
        self.generated_tokens = Counter(
            "inference_generated_tokens", "Tokens generated", ["class"], registry=r
        )
        self.preemptions = Counter(
            "inference_preemptions",
            "Batch requests preempted for interactive ones",
            ["class"],
            registry=r,
        )
        self.engine_aborts = Counter(
            "inference_engine_aborts", "Engine requests aborted", ["reason"], registry=r
        )
        self.prefix_cache_queries = Counter(
            "inference_prefix_cache_queries_tokens",
            "Prompt tokens looked up in the engine's prefix cache",
            registry=r,
        )
        self.prefix_cache_hits = Counter(
            "inference_prefix_cache_hits_tokens",
            "Prompt tokens found in the engine's prefix cache",
            registry=r,
        )
        self.prefix_cache_hit_rate = Gauge(
            "inference_prefix_cache_hit_rate",
            "Prefix cache hits / queries since start",
            registry=r,
        )
        self.engine_unfinished = Gauge(
            "inference_engine_unfinished_requests",
            "Requests the engine front end still tracks",
            registry=r,
        )
        self.engine_core_running = Gauge(
            "inference_engine_core_running_requests",
            "Requests running in the engine core (last reported step)",
            registry=r,
        )
        self.engine_core_waiting = Gauge(
            "inference_engine_core_waiting_requests",
            "Requests waiting in the engine core (last reported step)",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
