"""A stand-in inference worker: a real HTTP server answering /health and /v1/load the
way inference/api.py does, so the web side's checks go over real sockets."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

LOAD = {"chat": {"queued": 3, "running": 8, "estimated_wait_s": 1.5}}


class _Worker(BaseHTTPRequestHandler):
    def do_GET(self):
        bodies = {"/health": {"status": "ok", "engine": "up"}, "/v1/load": LOAD}
        body = bodies.get(self.path)
        payload = json.dumps(body or {"error": "not found"}).encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def inference_up():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Worker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def inference_down():
    """A local address nothing listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
