"""A student speaks to the tutor in a real browser and hears it answer: Chromium's fake
microphone plays a question spoken by espeak-ng; push-to-talk (or hands-free listening)
records it, the real Whisper model transcribes it into a turn, the real inference worker
answers, and the reply arrives as speech (Piper) sentence by sentence and is played."""

import contextlib
import json
import re
import shutil
import subprocess
import wave

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
def question_in_silence_wav(question_wav):
    """The question with 1.5 s of silence before it and 3 s after (the loop's pause)."""
    with wave.open(str(question_wav), "rb") as source:
        params = source.getparams()
        frames = source.readframes(source.getnframes())
    silence = bytes(params.sampwidth * params.nchannels)
    path = question_wav.with_name("question-in-silence.wav")
    with wave.open(str(path), "wb") as target:
        target.setparams(params)
        target.writeframes(
            silence * int(1.5 * params.framerate) + frames + silence * int(3 * params.framerate)
        )
    return path


@pytest.fixture(scope="module")
def playwright():
    # One sync Playwright per module: a second one cannot start while the first runs.
    with sync_playwright() as playwright:
        yield playwright


@contextlib.contextmanager
def _browser_hearing(playwright, wav):
    """Chromium whose microphone is `wav` on a loop, allowed without asking, and which
    plays audio without a user gesture."""
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def talking_browser(playwright, question_wav):
    with _browser_hearing(playwright, question_wav) as browser:
        yield browser


def _open_lesson(browser, server) -> tuple:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["microphone"], origin=server.url)
    page = context.new_page()
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: frames.append(json.loads(payload)) if "/ws/tutor/" in ws.url else None,
        ),
    )
    student_logs_in_and_opens_the_lesson(page, server.url)
    return page, frames


def _turns_before(page, frames: list[dict]) -> int:
    """The student's turns already in this lesson (earlier tests share the student), from
    the history the socket sends on connecting: counting the page races that history."""
    for _ in range(300):
        listed = [f for f in frames if f["type"] == "turn.list"]
        if listed:
            return sum(turn["role"] == "student" for turn in listed[0]["turns"])
        page.wait_for_timeout(100)
    raise AssertionError("the tutor socket sent no history")


def test_student_speaks_a_question_and_hears_the_answer(
    talking_browser, tutor_server, screenshot_dir
):
    page, frames = _open_lesson(talking_browser, tutor_server)
    tutor = page.get_by_test_id("tutor")
    before = _turns_before(page, frames)

    talk = page.get_by_test_id("voice-talk")
    talk.dispatch_event("pointerdown")
    expect(page.get_by_test_id("voice-state")).to_have_text("Recording… let go to send")
    page.wait_for_timeout(3500)  # the fake microphone says the question (on a loop)
    talk.dispatch_event("pointerup")

    turns = tutor.get_by_test_id("student-turn")
    expect(turns).to_have_count(before + 1, timeout=120_000)
    expect(turns.last).to_contain_text("fraction", ignore_case=True)
    # Finished: as written, or replaced by the answer guard (the model samples, and on this
    # lesson it sometimes names the exercise's answer); either way it is spoken.
    expect(tutor.get_by_test_id("tutor-turn").last).to_have_attribute(
        "data-status", re.compile(r"^(complete|guarded)$"), timeout=120_000
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


def test_hands_free_hears_the_question_end_and_answers_it(
    playwright, question_in_silence_wav, tutor_server, screenshot_dir
):
    """No button: the page learns the (silent) room, starts recording when the question
    begins, sends it after the pause that follows, and speaks the answer."""
    with _browser_hearing(playwright, question_in_silence_wav) as browser:
        page, frames = _open_lesson(browser, tutor_server)
        tutor = page.get_by_test_id("tutor")
        before = _turns_before(page, frames)
        voice = page.locator("[data-voice]")

        page.get_by_test_id("voice-handsfree").check()
        expect(voice).to_have_attribute("data-state", "recording", timeout=10_000)
        expect(page.get_by_test_id("voice-state")).to_have_text("Recording… pause to send")
        # the pause after the question ends the recording and sends it: nobody pressed
        # anything (the microphone loops, so later takes may follow the first)
        first_new = tutor.get_by_test_id("student-turn").nth(before)
        expect(first_new).to_contain_text("fraction", ignore_case=True, timeout=120_000)
        expect(voice).to_have_attribute("data-spoken", re.compile(r"[1-9]\d*"), timeout=120_000)
        page.get_by_test_id("voice-handsfree").uncheck()
        page.screenshot(path=str(screenshot_dir / "voice-hands-free.png"), full_page=True)
        kinds = [f["type"] for f in frames]
        assert kinds.index("turn.saved") < kinds.index("reply.audio")
