"""A real server (the README's embedded default, on a scratch database) and a real
headless Chromium driven by Playwright."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server_url(web_server):
    return web_server.url


class LiveServer:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self.env = env

    def manage(self, *args: str) -> str:
        """Run a management command against the server's database; returns its output."""
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout


@contextlib.contextmanager
def serve(var_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """`manage.py runserver` (Daphne, ASGI: HTTP + WebSocket) on the embedded default,
    with its own scratch database in `var_dir`; `extra_env` adds settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", EXOCORTEX_VAR_DIR=str(var_dir))
    env.update(extra_env or {})
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    port = _free_port()
    log = (var_dir / "server.log").open("w")
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health/", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail("web server did not start:\n" + (var_dir / "server.log").read_text())
        time.sleep(0.2)
    try:
        yield LiveServer(url, env)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def web_server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("var")) as server:
        yield server


# Module scope: sync Playwright keeps an event loop running in the main thread while it is
# open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


TUTOR_API_KEY = "e2e-tutor-worker-key-0123456789"


@pytest.fixture(scope="session")
def tutor_server(tmp_path_factory):
    """The real inference worker (packaged SmolLM2 on the CPU) and a server using it, with
    the demo school, course and class loaded; shared by the tutor and voice tests."""
    from tests.inference.conftest import start_worker, stop_worker

    log = tmp_path_factory.mktemp("tutor-worker") / "worker.log"
    worker = start_worker(
        {
            "INFERENCE_API_KEY": TUTOR_API_KEY,
            "INFERENCE_MAX_MODEL_LEN": "2048",
            "INFERENCE_KV_CACHE_GB": "0.5",
        },
        log,
    )
    extra = {
        "INFERENCE_URL": worker.url,
        "INFERENCE_API_KEY": TUTOR_API_KEY,
        "TUTOR_MAX_TOKENS": "60",
    }
    try:
        with serve(tmp_path_factory.mktemp("var"), extra) as server:
            server.manage("load_demo")
            server.manage("load_demo_course")
            server.manage("load_demo_assignments")
            yield server
    finally:
        stop_worker(worker)


def student_logs_in_and_opens_the_lesson(page, url: str) -> None:
    page.goto(url + "/accounts/login/")
    page.get_by_label("E-mail").fill("student@demo.exocortex.local")
    page.get_by_label("Password").fill("exocortex-demo")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Math 7A").click()
    page.get_by_test_id("continue").click()
