"""Fixtures for the inference worker tests.

`tiny_model_dir` builds a 2-layer Llama-shaped model with random weights (hidden 128,
2 heads of 64: CPU attention needs head_dim >= 64) and the real SmolLM2 tokenizer with
its chat template, read from the packaged GGUF. `worker` starts the real worker
(`python -m inference serve`, real vLLM CPU engine) on it once per session.
`tiny_vlm` builds a tiny random-weight vision-language model the same way (see
`multimodal.py`). Workers started with `TINY_WORKER_ENV` require an API key, as a
deployed worker does; `RunningWorker.headers` carries it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from .multimodal import TinyVLM, build_tiny_vlm, tiny_llama_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from inference.model_store import packaged_gguf_path

    gguf = packaged_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    assert tokenizer.chat_template, "the packaged tokenizer must carry a chat template"
    config = tiny_llama_config(tokenizer)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    target = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> TinyVLM:
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))


@dataclass
class RunningWorker:
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    api_key: str | None = None
    # What the worker started (vLLM's engine core): it outlives a killed worker.
    children: list[psutil.Process] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_worker(env_overrides: dict[str, str], log: Path) -> RunningWorker:
    """Start `python -m inference serve` and wait until /ready passes (with the API key
    when `env_overrides`, or the environment, sets one)."""
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "INFERENCE_HOST": "127.0.0.1",
        "INFERENCE_PORT": str(port),
        **env_overrides,
    }
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "inference", "serve"],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    api_key = env.get("INFERENCE_API_KEY", "").strip() or None
    worker = RunningWorker(f"http://127.0.0.1:{port}", log, process, api_key)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"worker exited with {process.returncode}:\n{worker.log_tail()}")
        try:
            ready = httpx.get(f"{worker.url}/ready", headers=worker.headers, timeout=30)
            if ready.status_code == 200:
                worker.children = psutil.Process(process.pid).children(recursive=True)
                return worker
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop_worker(worker)
    pytest.fail(f"worker not ready after {STARTUP_TIMEOUT_S}s:\n{worker.log_tail()}")


def stop_worker(worker: RunningWorker) -> None:
    """Stop the worker (it shuts its engine down), then kill whatever it started that is
    still running: nothing may outlive the tests."""
    worker.process.terminate()
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait(timeout=10)
    for child in worker.children:
        if child.is_running():  # the same process (psutil checks its start time)
            child.kill()
    psutil.wait_procs(worker.children, timeout=10)


# Settings chosen so the tests can provoke each behaviour quickly: one batch slot (a
# long grading request holds it), a tiny authoring queue (429), a 2048-token context,
# chats up to 2048 tokens (a long stream to cancel), and an API key.
TINY_WORKER_ENV = {
    "INFERENCE_API_KEY": "tiny-worker-test-key-0123456789",
    "INFERENCE_MAX_TOKENS_CHAT": "2048",
    "INFERENCE_MAX_MODEL_LEN": "2048",
    "INFERENCE_MAX_TOKENS_LIMIT": "2048",
    "INFERENCE_BATCH_INFLIGHT": "1",
    "INFERENCE_BATCH_INFLIGHT_ACTIVE": "1",
    "INFERENCE_BATCH_INFLIGHT_INTERACTIVE": "0",
    "INFERENCE_QUEUE_LIMIT_AUTHORING": "2",
    "INFERENCE_KV_CACHE_GB": "0.25",
    "INFERENCE_MAX_NUM_SEQS": "16",
    "INFERENCE_COALESCE_MS": "20",
    "INFERENCE_MODEL_NAME": "tiny-llama",
}


@pytest.fixture(scope="session")
def worker(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWorker]:
    log = tmp_path_factory.mktemp("worker-log") / "worker.log"
    running = start_worker({**TINY_WORKER_ENV, "INFERENCE_MODEL": str(tiny_model_dir)}, log)
    yield running
    stop_worker(running)
