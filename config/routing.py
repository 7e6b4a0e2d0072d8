"""WebSocket URL routes of every app, collected for config.asgi."""

from accounts.routing import websocket_urlpatterns as accounts_ws
from learning.routing import websocket_urlpatterns as learning_ws
from tutor.routing import websocket_urlpatterns as tutor_ws

websocket_urlpatterns = [*accounts_ws, *learning_ws, *tutor_ws]
