"""Socket metrics at the ASGI layer: open connections per route, and tutor replies.

Tutor replies are counted from the frames the tutor socket sends (its protocol is
written down in tutor/consumers.py): every reply ends in `reply.done` or `reply.error`,
and `reply.reset` means the answer guard withheld a draft. Counting here keeps metrics
out of the consumer's code; only the first bytes of each frame are looked at.
"""

from __future__ import annotations

from ops import metrics

# Frames are `json.dumps(...)` of a dict whose first key is "type" (send_json).
_REPLY_FRAMES = {
    '{"type": "reply.done"': "done",
    '{"type": "reply.error"': "error",
    '{"type": "reply.reset"': "withheld",
}
_REPLY_PREFIX = '{"type": "reply.'


def socket_route(path: str) -> str:
    """The app a socket path belongs to: /ws/tutor/lessons/4/ -> "tutor"."""
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "ws" and parts[1] else "other"


def _reply_outcome(text: str) -> str | None:
    if not text.startswith(_REPLY_PREFIX):
        return None
    for prefix, outcome in _REPLY_FRAMES.items():
        if text.startswith(prefix):
            return outcome
    return None


class WebsocketMetrics:
    """Wraps the WebSocket app: a connection counts as open from its accept to its end
    (refused handshakes never count, so routes are only ones the router accepted)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        route = socket_route(scope.get("path", ""))
        accepted = False

        async def send_counted(message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                metrics.websocket_connections.labels(route=route).inc()
                metrics.websocket_connections_opened.labels(route=route).inc()
            elif message["type"] == "websocket.send" and route == "tutor":
                outcome = _reply_outcome(message.get("text") or "")
                if outcome is not None:
                    metrics.tutor_replies.labels(outcome=outcome).inc()
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            if accepted:
                metrics.websocket_connections.labels(route=route).dec()
