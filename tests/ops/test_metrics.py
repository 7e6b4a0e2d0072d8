"""Prometheus metrics: the protected /metrics page, request, socket and tutor-reply
counts, Celery task metrics and the worker-side exporter, multiprocess summing."""

import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator

from config.celery import app as celery_app
from ops import celery_metrics, metrics
from ops.asgi import WebsocketMetrics, socket_route

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-0123456789"


def sample(name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


# --- /metrics ----------------------------------------------------------------------------


def test_metrics_page_does_not_exist_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"],
)
def test_metrics_page_refuses_scrapers_without_the_token(client, metrics_token, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"exocortex_" not in response.content


@pytest.mark.django_db
def test_requests_are_counted_and_timed_by_view_name_and_status(client, metrics_token):
    before_ok = sample("exocortex_http_requests_total", view="healthz", method="GET", status="200")
    before_405 = sample(
        "exocortex_http_requests_total", view="healthz", method="POST", status="405"
    )
    before_404 = sample(
        "exocortex_http_requests_total", view="<unresolved>", method="GET", status="404"
    )
    before_timed = sample("exocortex_http_request_duration_seconds_count", view="healthz")

    client.get("/healthz")
    client.get("/healthz")
    client.post("/healthz")
    client.get("/no/such/page/12345")

    assert (
        sample("exocortex_http_requests_total", view="healthz", method="GET", status="200")
        == before_ok + 2
    )
    assert (
        sample("exocortex_http_requests_total", view="healthz", method="POST", status="405")
        == before_405 + 1
    )
    # Unmatched paths share one label: clients cannot create series at will.
    assert (
        sample("exocortex_http_requests_total", view="<unresolved>", method="GET", status="404")
        == before_404 + 1
    )
    assert sample("exocortex_http_request_duration_seconds_count", view="healthz") == (
        before_timed + 3
    )

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert 'exocortex_http_requests_total{method="GET",status="200",view="healthz"}' in text
    assert "# TYPE exocortex_celery_tasks_total counter" in text
    assert "# TYPE exocortex_websocket_connections gauge" in text


# --- sockets and tutor replies -----------------------------------------------------------------


class _TutorLike(AsyncJsonWebsocketConsumer):
    """Sends what the tutor consumer sends for one reply, by its documented protocol."""

    async def connect(self):
        await self.accept()

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "reply.start", "seq": 1})
        await self.send_json({"type": "reply.delta", "seq": 1, "text": "Half"})
        await self.send_json({"type": "reply.reset", "seq": 1})
        await self.send_json({"type": "reply.done", "turn": {"seq": 1, "text": "Half of it."}})
        await self.send_json({"type": "reply.error", "seq": 2, "message": "x", "retryable": True})


class _Refusing(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.close(code=4404)


def test_socket_routes_are_named_by_app():
    assert socket_route("/ws/tutor/lessons/4/") == "tutor"
    assert socket_route("/ws/learning/lessons/4/") == "learning"
    assert socket_route("/elsewhere/") == "other"


# Channels closes stale database connections around each message.
@pytest.mark.django_db(transaction=True)
async def test_open_sockets_and_tutor_replies_are_counted():
    app = WebsocketMetrics(_TutorLike.as_asgi())
    open_before = sample("exocortex_websocket_connections", route="tutor")
    opened_before = sample("exocortex_websocket_connections_opened_total", route="tutor")
    replies = {
        o: sample("exocortex_tutor_replies_total", outcome=o) for o in ("done", "error", "withheld")
    }

    communicator = WebsocketCommunicator(app, "/ws/tutor/lessons/4/")
    connected, _ = await communicator.connect()
    assert connected
    assert sample("exocortex_websocket_connections", route="tutor") == open_before + 1
    await communicator.send_json_to({"type": "message.send", "text": "What is 1/2 of 1?"})
    for _ in range(5):
        await communicator.receive_json_from()
    await communicator.disconnect()

    assert sample("exocortex_websocket_connections", route="tutor") == open_before
    assert (
        sample("exocortex_websocket_connections_opened_total", route="tutor") == opened_before + 1
    )
    assert {
        o: sample("exocortex_tutor_replies_total", outcome=o) - replies[o] for o in replies
    } == {"done": 1, "error": 1, "withheld": 1}


# Channels closes stale database connections around each message.
@pytest.mark.django_db(transaction=True)
async def test_refused_sockets_are_not_counted():
    app = WebsocketMetrics(_Refusing.as_asgi())
    opened_before = sample("exocortex_websocket_connections_opened_total", route="tutor")

    communicator = WebsocketCommunicator(app, "/ws/tutor/lessons/999/")
    connected, code = await communicator.connect()

    assert (connected, code) == (False, 4404)
    assert sample("exocortex_websocket_connections_opened_total", route="tutor") == opened_before
    assert sample("exocortex_websocket_connections", route="other") == 0


def test_the_asgi_application_counts_sockets():
    from config.asgi import application

    assert isinstance(application.application_mapping["websocket"], WebsocketMetrics)


# --- Celery --------------------------------------------------------------------------------


@celery_app.task(name="tests.ops.divide")
def divide(a, b):
    return a / b


def test_tasks_are_counted_and_timed_by_name_and_state():
    succeeded = sample("exocortex_celery_tasks_total", task="tests.ops.divide", state="SUCCESS")
    failed = sample("exocortex_celery_tasks_total", task="tests.ops.divide", state="FAILURE")
    timed = sample("exocortex_celery_task_duration_seconds_count", task="tests.ops.divide")

    assert divide.apply(args=(1, 2)).get() == 0.5
    assert divide.apply(args=(1, 0), throw=False).failed()

    assert sample("exocortex_celery_tasks_total", task="tests.ops.divide", state="SUCCESS") == (
        succeeded + 1
    )
    assert sample("exocortex_celery_tasks_total", task="tests.ops.divide", state="FAILURE") == (
        failed + 1
    )
    assert sample("exocortex_celery_task_duration_seconds_count", task="tests.ops.divide") == (
        timed + 2
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_worker_exporter_serves_task_metrics_on_its_port(settings):
    settings.CELERY_METRICS_PORT = _free_port()
    divide.apply(args=(4, 2))

    server = celery_metrics.exporter_start()
    try:
        url = f"http://127.0.0.1:{settings.CELERY_METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()

    assert 'exocortex_celery_tasks_total{state="SUCCESS",task="tests.ops.divide"}' in text


def test_no_exporter_without_a_port(settings):
    settings.CELERY_METRICS_PORT = 0

    assert celery_metrics.exporter_start() is None


def test_exporter_starts_when_the_worker_is_ready():
    from celery import signals

    # connected strongly (weak=False): the receiver itself is in the list
    assert any(r is celery_metrics.exporter_start for _, r in signals.worker_ready.receivers)


# --- several processes (uvicorn workers, prefork children) -----------------------------------


def _in_process(code: str, multiproc_dir: Path) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
    }
    script = "import django; django.setup()\nfrom ops import metrics\n" + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def test_one_scrape_sums_every_process_in_multiprocess_mode(tmp_path):
    # given two processes that each counted replies and opened sockets
    _in_process(
        'metrics.tutor_replies.labels(outcome="done").inc()\n'
        'metrics.websocket_connections.labels(route="tutor").inc()',
        tmp_path,
    )
    _in_process(
        'metrics.tutor_replies.labels(outcome="done").inc(2)\n'
        'metrics.websocket_connections.labels(route="tutor").inc(2)\n'
        'metrics.websocket_connections.labels(route="tutor").dec()',
        tmp_path,
    )
    # when a third process (the one a scrape reaches) renders the metrics
    text = _in_process("import sys; sys.stdout.write(metrics.exposition().decode())", tmp_path)

    # then counters and open sockets are summed over the processes
    assert 'exocortex_tutor_replies_total{outcome="done"} 3.0' in text
    assert 'exocortex_websocket_connections{route="tutor"} 2.0' in text
