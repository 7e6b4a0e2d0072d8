"""Session-affinity router: consistent hashing and failover, against real local servers."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inference.client import InferenceClient, WorkerRouter
from inference.errors import InferenceUnavailable


class _Server:
    """A real HTTP server that answers chat completions with its own name."""

    def __init__(self, name: str) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                if outer.status != 200:
                    payload = {"error": {"message": "starting", "code": "unavailable"}}
                else:
                    payload = {
                        "choices": [
                            {
                                "message": {"role": "assistant", "content": name},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {},
                    }
                data = json.dumps(payload).encode()
                self.send_response(outer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.bodies: list[dict] = []
        self.status = 200
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[list[_Server]]:
    started = [_Server(f"w{i}") for i in range(3)]
    yield started
    for server in started:
        if server.thread.is_alive():
            server.stop()


def test_ring_is_stable_and_spreads_sessions():
    urls = ["http://a", "http://b", "http://c"]
    router = WorkerRouter(urls)
    owners = {f"s{i}": router.candidates(f"s{i}")[0] for i in range(600)}

    assert all(WorkerRouter(urls).candidates(s)[0] == o for s, o in owners.items())
    spread = Counter(owners.values())
    assert set(spread) == set(urls)
    assert min(spread.values()) > 100  # roughly even with 64 virtual nodes each
    assert sorted(router.candidates("s1")) == urls  # every worker appears once


def test_removing_a_worker_moves_only_its_sessions():
    full = WorkerRouter(["http://a", "http://b", "http://c"])
    reduced = WorkerRouter(["http://a", "http://b"])
    for i in range(300):
        owner = full.candidates(f"s{i}")[0]
        if owner != "http://c":
            assert reduced.candidates(f"s{i}")[0] == owner


def test_down_workers_are_tried_last_until_cooldown_ends():
    router = WorkerRouter(["http://a", "http://b"], cooldown_s=60)
    owner = router.candidates("s")[0]
    router.mark_down(owner)
    assert router.candidates("s")[-1] == owner
    router.mark_up(owner)
    assert router.candidates("s")[0] == owner


async def test_same_session_always_reaches_the_same_server(servers):
    async with InferenceClient([s.url for s in servers]) as client:
        first = {}
        for session in ("alice", "bob", "carol", "dave", "erin", "frank"):
            answers = {(await client.complete([], session=session)).text for _ in range(3)}
            assert len(answers) == 1
            first[session] = answers.pop()
    assert len(set(first.values())) > 1  # sessions spread over the servers
    sent = [b for s in servers for b in s.bodies]
    assert {b["exocortex"]["session"] for b in sent} == set(first)
    assert all(b["exocortex"]["class"] == "chat" for b in sent)


async def test_failover_to_next_server_when_owner_is_down(servers):
    urls = [s.url for s in servers]
    by_url = {s.url: s for s in servers}
    router = WorkerRouter(urls)
    owner, backup = router.candidates("session-x")[:2]
    by_url[owner].stop()

    async with InferenceClient(urls, connect_timeout_s=1.0) as client:
        result = await client.complete([], session="session-x")
        again = await client.complete([], session="session-x")

    assert result.worker == backup
    assert again.worker == backup
    assert client.router.candidates("session-x")[-1] == owner  # marked down


async def test_failover_on_503_and_error_when_all_are_unavailable(servers):
    for server in servers:
        server.status = 503
    async with InferenceClient([s.url for s in servers]) as client:
        with pytest.raises(InferenceUnavailable, match="starting"):
            await client.complete([], session="s")
    assert all(len(s.bodies) == 1 for s in servers)  # each tried exactly once
