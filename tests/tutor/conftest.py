"""Tutor chat fixtures: a learner on a lesson with an open exercise, sockets, and a
scripted model (for the guard and error paths; the real worker is used in test_chat_worker)."""

import asyncio
from dataclasses import dataclass, field

import pytest
from channels.db import database_sync_to_async

from inference.errors import InferenceUnavailable
from learning import selectors, services
from tests.accounts.test_consumers import connect, session_headers
from tests.learning.conftest import build_world


@dataclass
class ScriptedStream:
    """Yields the scripted deltas; `fail_after` raises like a worker dying mid-reply."""

    deltas: list[str]
    fail_after: int | None = None
    pause_s: float = 0.0
    aborted: bool = False

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        for index, delta in enumerate(self.deltas):
            if self.fail_after is not None and index >= self.fail_after:
                raise InferenceUnavailable("worker dropped the stream")
            if self.pause_s:
                await asyncio.sleep(self.pause_s)
            yield delta

    async def abort(self):
        self.aborted = True


@dataclass
class ScriptedModel:
    """Stands in for common.inference.inference_client: each stream_chat call takes the
    next script; the messages it was sent are kept for assertions."""

    scripts: list[ScriptedStream] = field(default_factory=list)
    calls: list[list[dict]] = field(default_factory=list)

    def __call__(self, **_kwargs):
        return self

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    def stream_chat(self, messages, **_kwargs):
        self.calls.append(messages)
        return self.scripts.pop(0)


@pytest.fixture
def scripted(monkeypatch):
    model = ScriptedModel()
    monkeypatch.setattr("tutor.consumers.inference_client", model)
    return model


def open_exercise_world():
    """A student with the lesson's first exercise open (numeric, answer 0.75)."""
    world = build_world()
    cmap = selectors.course_map(course=world.course)
    presentation = services.presentation_for_lesson(
        learner=world.student, lesson=world.lesson, cmap=cmap
    )
    return world, presentation


async def tutor_socket(world, user=None):
    headers = await database_sync_to_async(session_headers)(user or world.student)
    communicator, connected, code = await connect(f"/ws/tutor/lessons/{world.lesson.id}/", headers)
    return communicator, connected, code


async def frames_until(communicator, kind: str, wait_s: float = 10) -> list[dict]:
    """Receive frames until one of type `kind` (inclusive)."""
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=wait_s)
        frames.append(frame)
        if frame["type"] == kind:
            return frames
