"""An in-process stand-in for the engine, used ONLY to exercise the worker's HTTP layer
(`inference.api`): auth, body limits, JSON and image guards, what runs off the event
loop. Everything about generation is tested against the real engine in
`test_worker_api.py`.

`serve()` runs the real app under a real uvicorn server on a real socket, in a thread
with its own event loop, so a test can see whether that loop stays responsive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import uvicorn

from inference.api import create_app
from inference.config import Settings
from inference.protocol import ChatRequest, Delta
from inference.scheduler import RequestClass

from .conftest import free_port


@dataclass
class StandinWorker:
    """Just enough of `inference.engine.Worker` for `create_app`. `prepare` blocks for
    `prepare_s` (as tokenising a long prompt does), sets `preparing` when it starts and
    records on which thread it ran and what it was given; `generate` answers "hello
    world"."""

    multimodal: bool = False
    max_model_len: int = 2048
    prepare_s: float = 0.0
    model_name: str = "standin"
    prepared: list[ChatRequest] = field(default_factory=list)
    prepare_threads: list[str] = field(default_factory=list)
    engine: Any = field(default_factory=lambda: SimpleNamespace(errored=False))
    metrics: Any = field(default_factory=lambda: SimpleNamespace(render=lambda: b"# none\n"))
    preparing: threading.Event = field(default_factory=threading.Event)

    def prepare(self, chat: ChatRequest) -> Any:
        self.prepare_threads.append(threading.current_thread().name)
        self.preparing.set()
        time.sleep(self.prepare_s)
        self.prepared.append(chat)
        return SimpleNamespace(chat=chat, prompt_token_ids=[1, 2, 3])

    async def generate(self, prepared: Any) -> AsyncIterator[Delta]:
        yield Delta("hello", 1)
        yield Delta(" world", 2, finish_reason="stop", prompt_tokens=3)

    async def ready_probe(self) -> None:
        pass

    def load(self) -> dict[str, Any]:
        return {c.label: {"queued": 0, "running": 0, "estimated_wait_s": 0.0} for c in RequestClass}

    def refresh_metrics(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


@contextmanager
def serve(settings: Settings, worker: StandinWorker) -> Iterator[str]:
    """Run the worker's app with `worker` on a free loopback port; yield its base URL."""

    async def factory(_: Settings) -> Any:
        return worker

    app = create_app(settings, worker_factory=factory)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="standin-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=5).json().get("engine") == "up":
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the stand-in server did not start"
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
