"""The README's run command (`make run` → scripts/run_embedded.sh) serves with debug off,
static files included, and refuses oversized bodies unread. The script runs for real;
only its inference worker is replaced by a sleeping stand-in."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def embedded_url(tmp_path):
    if not (ROOT / "frontend" / "build" / "app.js").exists():
        pytest.skip("frontend/build is missing: run `make setup` (npm run build)")
    # A virtualenv whose python runs everything but the inference worker.
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-m inference" ]; then exec sleep 600; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY"}
    }
    env.update(
        VENV=str(tmp_path / "venv"),
        WEB_ADDR=f"127.0.0.1:{port}",
        EXOCORTEX_VAR_DIR=str(tmp_path / "var"),
    )
    # As `make run` does first: the login page reads the database (single sign-on buttons).
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.embedded"},
        check=True,
        capture_output=True,
    )
    log = (tmp_path / "server.log").open("w")
    # Its own process group: the script ends with `kill 0`.
    server = subprocess.Popen(
        ["bash", "scripts/run_embedded.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/static/app.js", timeout=1)
            break
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            os.killpg(server.pid, signal.SIGTERM)
            pytest.fail("server did not start:\n" + (tmp_path / "server.log").read_text())
        time.sleep(0.2)
    yield url
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=10)


def test_run_command_serves_with_debug_off_and_static_files(embedded_url):
    page = httpx.get(f"{embedded_url}/accounts/login/")
    missing = httpx.get(f"{embedded_url}/no-such-page/")
    script = httpx.get(f"{embedded_url}/static/app.js")
    oversized = httpx.post(f"{embedded_url}/accounts/login/", content=b"\0" * (10 * 1024 * 1024))

    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert missing.status_code == 404
    assert "URLconf" not in missing.text
    assert "accounts/" not in missing.text
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert oversized.status_code == 413
