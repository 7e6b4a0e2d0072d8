"""Voice through the tutor socket: a spoken question (espeak-ng speech, the real packaged
Whisper model on the `speech` queue) becomes a normal saved turn, and the reply is spoken
sentence by sentence (real Piper) as it is shown; a recording with nothing said gets a
clear message and saves nothing."""

import base64
import io
import wave

import numpy as np
import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from tests.tutor.conftest import ScriptedStream, frames_until, tutor_socket
from tests.tutor.test_consumer import reading_world
from tests.voice.conftest import speak, wav_bytes
from tutor.models import Turn
from voice.models import VoiceClip

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True)]


def upload(world, audio: bytes) -> dict:
    client = Client()
    client.force_login(world.student)
    response = client.post(
        reverse("tutor:voice_upload", args=[world.lesson.id]),
        {"audio": io.BytesIO(audio)},
    )
    return {"status": response.status_code, **response.json()}


async def test_spoken_question_is_answered_in_text_and_speech(
    scripted, celery_live, whisper, tmp_path
):
    world = await database_sync_to_async(reading_world)()
    question = speak("What is a fraction?", voice="en-us", path=tmp_path / "question.wav")
    sent = await database_sync_to_async(upload)(world, question)
    assert sent["status"] == 201, sent
    scripted.scripts.append(
        ScriptedStream(["A fraction names equal parts of a whole. ", "What part is shaded?"])
    )
    socket, _, _ = await tutor_socket(world)
    await socket.send_json_to({"type": "voice.send", "clip_id": sent["id"]})
    frames = await frames_until(socket, "reply.done", wait_s=90)
    while sum(f["type"] == "reply.audio" for f in frames) < 2:
        frames.append(await socket.receive_json_from(timeout=60))
    await socket.disconnect()
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "voice.status"
    saved = next(f["turn"] for f in frames if f["type"] == "turn.saved")
    assert "fraction" in saved["text"].lower()
    assert scripted.calls[0][-1]["content"] == saved["text"]  # a normal turn for the model
    spoken = [f for f in frames if f["type"] == "reply.audio"]
    assert [f["index"] for f in spoken] == [0, 1]
    assert spoken[0]["text"].startswith("A fraction names equal parts")
    for frame in spoken:
        with wave.open(io.BytesIO(base64.b64decode(frame["audio"]))) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        assert 0.5 < seconds < 10
    clip = await database_sync_to_async(VoiceClip.objects.get)(pk=sent["id"])
    assert clip.status == VoiceClip.Status.TRANSCRIBED
    assert not clip.audio  # raw audio is gone once transcribed


async def test_a_silent_recording_gets_a_message_and_saves_nothing(scripted, celery_live, whisper):
    world = await database_sync_to_async(reading_world)()
    rng = np.random.default_rng(0)
    hiss = wav_bytes(rng.normal(0, 0.002, 16_000 * 2))  # two seconds of faint noise
    sent = await database_sync_to_async(upload)(world, hiss)
    socket, _, _ = await tutor_socket(world)
    if sent["status"] == 201:  # refused later, by the transcription
        await socket.send_json_to({"type": "voice.send", "clip_id": sent["id"]})
        frames = await frames_until(socket, "voice.status", wait_s=60)
        while frames[-1]["state"] == "transcribing":
            frames += await frames_until(socket, "voice.status", wait_s=60)
        assert frames[-1]["state"] == "failed"
        assert "speech" in frames[-1]["message"].lower()
    else:  # refused at once
        assert sent["status"] == 400
        assert sent["error"]
    await socket.send_json_to({"type": "voice.send", "clip_id": 999999})
    gone = await frames_until(socket, "voice.status", wait_s=10)
    while gone[-1]["state"] == "transcribing":
        gone += await frames_until(socket, "voice.status", wait_s=10)
    await socket.disconnect()
    assert gone[-1]["state"] == "failed"
    turns = Turn.objects.filter(session__learner=world.student)
    assert await database_sync_to_async(turns.count)() == 0
    assert scripted.calls == []
