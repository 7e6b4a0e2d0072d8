"""A student asks the tutor during an exercise, in a real browser, with the real
inference worker (vLLM on the CPU, the packaged SmolLM2 model): the question is saved and
shown with its math typeset, the reply streams in over the socket and ends as sanitised,
rendered HTML; after a reload the conversation is still there."""

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import student_logs_in_and_opens_the_lesson

pytestmark = [pytest.mark.browser, pytest.mark.vllm]


def test_student_asks_the_tutor_during_an_exercise(browser, tutor_server, screenshot_dir):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: frames.append(json.loads(payload)) if "/ws/tutor/" in ws.url else None,
        ),
    )
    student_logs_in_and_opens_the_lesson(page, tutor_server.url)
    expect(page.get_by_test_id("exercise")).to_have_count(1)
    tutor = page.get_by_test_id("tutor")
    expect(tutor).to_contain_text("it will not give the answer away")

    page.get_by_test_id("tutor-input").fill(r"Why is $\frac{1}{2}$ the same as $\frac{2}{4}$?")
    page.get_by_test_id("tutor-send").click()

    student = tutor.get_by_test_id("student-turn")
    expect(student).to_have_count(1)
    expect(student.locator(".katex").first).to_be_visible()  # typeset like the lessons
    reply = tutor.get_by_test_id("tutor-turn")
    expect(reply).to_have_attribute("data-status", "complete", timeout=120_000)
    kinds = [f["type"] for f in frames]
    assert kinds.index("turn.saved") < kinds.index("reply.start") < kinds.index("reply.done")
    assert "reply.delta" in kinds  # streamed before it was done
    done = next(f for f in frames if f["type"] == "reply.done")
    assert done["turn"]["text"].strip()
    expect(reply.locator(".turn-body")).not_to_be_empty()
    assert reply.locator("script").count() == 0
    expect(page.get_by_test_id("tutor-retry")).to_be_hidden()  # nothing was cut off
    page.screenshot(path=str(screenshot_dir / "tutor-chat-exercise.png"), full_page=True)

    # the conversation survives a reload (asked for again by sequence number)
    page.reload()
    expect(tutor.get_by_test_id("student-turn")).to_have_count(1)
    expect(tutor.get_by_test_id("tutor-turn")).to_have_count(1)
