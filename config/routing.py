"""WebSocket URL routes of every app, collected for config.asgi."""

from accounts.routing import websocket_urlpatterns as accounts_ws

websocket_urlpatterns = [*accounts_ws]
