"""WebSocket consumers for accounts.

Message schema (JSON text frames, `{"type": "noun.verb", ...}`):

/ws/ping/  — proves the socket wiring and authentication.
  client → server  {"type": "ping.send", "nonce": <any JSON, optional>}
  server → client  {"type": "ping.reply", "nonce": <echoed>, "user": <user id>}
  server → client  {"type": "error", "message": str}   (unknown or malformed frame)

/ws/classrooms/<id>/  — live events of one class, for its teacher and students.
  server → client  {"type": "member.joined", "student": {"id": int, "name": str}}
                   (sent to staff only; students get no roster)
  server → client  {"type": "error", "message": str}

Anonymous sockets are closed with code 4401; a class the user may not see closes with
4404, the socket counterpart of the HTTP 404.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from accounts import selectors
from accounts.services import classroom_group_name

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class AuthenticatedJsonConsumer(AsyncJsonWebsocketConsumer):
    """Refuses anonymous users before accepting; subclasses check object access."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await self.authorize(user):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept()
        await self.joined(user)

    async def authorize(self, user) -> bool:
        return True

    async def joined(self, user) -> None:
        """Called once the socket is accepted."""

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json({"type": "error", "message": "Frames need a string 'type'."})
            return
        handler = getattr(self, "client_" + content["type"].replace(".", "_"), None)
        if handler is None:
            await self.send_json({"type": "error", "message": "Unknown message type."})
            return
        await handler(content)

    @classmethod
    async def decode_json(cls, text_data):
        import json

        try:
            return json.loads(text_data)
        except ValueError:
            return None


class PingConsumer(AuthenticatedJsonConsumer):
    async def client_ping_send(self, content: dict) -> None:
        await self.send_json(
            {"type": "ping.reply", "nonce": content.get("nonce"), "user": self.scope["user"].id}
        )


class ClassroomConsumer(AuthenticatedJsonConsumer):
    async def authorize(self, user) -> bool:
        classroom_id = int(self.scope["url_route"]["kwargs"]["classroom_id"])
        try:
            await database_sync_to_async(selectors.classroom_get_for_user)(
                user=user, classroom_id=classroom_id
            )
        except Http404:
            return False
        self.group = classroom_group_name(classroom_id)
        self.is_staff = user.is_staff_member
        return True

    async def joined(self, user) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def disconnect(self, code) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def member_joined(self, event: dict) -> None:
        if self.is_staff:
            await self.send_json({"type": "member.joined", "student": event["student"]})
