"""A student speaks to the tutor in a real browser and hears it answer: Chromium's fake
microphone plays a question spoken by espeak-ng; push-to-talk records it, the real
Whisper model transcribes it into a turn, the real inference worker answers, and the
reply arrives as speech (Piper) sentence by sentence and is played."""

import json
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, student_logs_in_and_opens_the_lesson

pytestmark = [pytest.mark.browser, pytest.mark.vllm, pytest.mark.speech]


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory):
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is missing: .ci/run installs it")
    path = tmp_path_factory.mktemp("voice") / "question.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(path), "What is a fraction?"],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def talking_browser(question_wav):
    """Chromium whose microphone is the question on a loop, allowed without asking, and
    which plays audio without a user gesture."""
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={question_wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


def test_student_speaks_a_question_and_hears_the_answer(
    talking_browser, tutor_server, screenshot_dir
):
    context = talking_browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["microphone"], origin=tutor_server.url)
    page = context.new_page()
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: frames.append(json.loads(payload)) if "/ws/tutor/" in ws.url else None,
        ),
    )
    student_logs_in_and_opens_the_lesson(page, tutor_server.url)
    tutor = page.get_by_test_id("tutor")
    before = tutor.get_by_test_id("student-turn").count()

    talk = page.get_by_test_id("voice-talk")
    talk.dispatch_event("pointerdown")
    expect(page.get_by_test_id("voice-state")).to_have_text("Recording… let go to send")
    page.wait_for_timeout(3500)  # the fake microphone says the question (on a loop)
    talk.dispatch_event("pointerup")

    turns = tutor.get_by_test_id("student-turn")
    expect(turns).to_have_count(before + 1, timeout=120_000)
    expect(turns.last).to_contain_text("fraction", ignore_case=True)
    expect(tutor.get_by_test_id("tutor-turn").last).to_have_attribute(
        "data-status", "complete", timeout=120_000
    )
    # at least one spoken sentence was played to its end in the page
    expect(page.locator("[data-voice]")).to_have_attribute(
        "data-spoken", re.compile(r"[1-9]\d*"), timeout=60_000
    )
    page.screenshot(path=str(screenshot_dir / "voice-chat.png"), full_page=True)
    spoken = [f for f in frames if f["type"] == "reply.audio"]
    assert spoken, "the reply was spoken"
    assert spoken[0]["index"] == 0
    kinds = [f["type"] for f in frames]
    assert kinds.index("voice.status") < kinds.index("turn.saved") < kinds.index("reply.audio")
