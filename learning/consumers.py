"""WebSocket consumer of the learner's own events.

/ws/learning/  — one learner's sockets (every open lesson tab).
  server → client  {"type": "attempt.graded", "attempt": int, "presentation": int,
                    "status": "correct" | "incorrect" | "grading_failed"}
  server → client  {"type": "error", "message": str}

Anonymous sockets are closed with 4401. A learner only ever joins their own group, so
nothing of another learner (or school) can reach them.
"""

from accounts.consumers import AuthenticatedJsonConsumer
from learning.services import learner_group_name


class LearnerConsumer(AuthenticatedJsonConsumer):
    async def joined(self, user) -> None:
        self.group = learner_group_name(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def disconnect(self, code) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def attempt_graded(self, event: dict) -> None:
        await self.send_json(
            {
                "type": "attempt.graded",
                "attempt": event["attempt"],
                "presentation": event["presentation"],
                "status": event["status"],
            }
        )
