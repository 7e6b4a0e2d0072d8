"""The reply's language: the student's own (when clear, else their profile's), and a
model reply in another language is withheld and rewritten."""

import pytest
from channels.db import database_sync_to_async

from tests.tutor.conftest import ScriptedStream, frames_until, tutor_socket
from tests.tutor.test_consumer import reading_world
from tutor.language import ReplyLanguageCheck, detect


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hola, ¿cómo sumo fracciones?", "es"),
        ("Resuelve 3x + 7 = 22", "es"),
        ("No entiendo el ejercicio", "es"),
        ("Je ne comprends pas la question", "fr"),
        ("Résous 3x + 7 = 22", "fr"),
        ("حل المعادلة 3x + 7 = 22", "ar"),
        ("Solve 3x + 7 = 22", "en"),
        ("What is the answer?", "en"),
        ("x = 5", None),
        ("ok", None),
        ("3/4 + 1/8", None),
    ],
)
def test_detects_the_language_of_a_student_message(text, language):
    assert detect(text, min_evidence=1) == language


def test_reply_check_needs_clear_evidence_of_another_language():
    check = ReplyLanguageCheck("es")
    assert check.check("¡Muy bien! ¿Qué obtienes si restas 7 en ambos lados?") is None
    assert check.check("$x = 5$?") is None  # maths alone: no opinion
    assert check.check("Good question! What do you get when you subtract 7?") == "language:en"
    assert ReplyLanguageCheck("ar").check("ما هو الخطوة الأولى؟") is None


@pytest.mark.django_db(transaction=True)
async def test_spanish_question_gets_a_spanish_reply_even_if_the_model_drifts(scripted):
    world = await database_sync_to_async(reading_world)()  # profile language: English
    scripted.scripts += [
        ScriptedStream(["Good question! ", "What do you get when you add the two halves?"]),
        ScriptedStream(["¡Buena pregunta! ", "¿Qué obtienes si sumas las dos mitades?"]),
    ]
    socket, _, _ = await tutor_socket(world)
    await socket.send_json_to({"type": "message.send", "text": "¿Qué es una fracción?"})
    frames = await frames_until(socket, "reply.done")
    await socket.disconnect()
    assert "Reply in Spanish" in scripted.calls[0][0]["content"]
    assert "reply only in Spanish" in scripted.calls[1][0]["content"]
    assert "reply.reset" in [f["type"] for f in frames]
    assert frames[-1]["turn"]["text"] == "¡Buena pregunta! ¿Qué obtienes si sumas las dos mitades?"
