"""Hands-free end-pointing in the browser (frontend/src/vad.ts), run in Node.js on the same
code the page bundles: level readings every 50 ms, as the page takes them."""

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
STEP_MS = 50

RUNNER = """
import { Endpointer } from "./vad.mjs";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const scenario of JSON.parse(input)) {
  const endpointer = new Endpointer();
  const events = [];
  scenario.levels.forEach((level, i) => {
    const now = i * %(step)d;
    if (i === scenario.recalibrateAt) endpointer.recalibrate();
    const decision = endpointer.update(level, now, scenario.listening ?? true);
    if (decision) events.push([now, decision]);
  });
  out.push({ events, floor: endpointer.floor });
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not ESBUILD.exists() or shutil.which("node") is None:
        pytest.fail("node and the npm packages are needed: make setup")
    folder = tmp_path_factory.mktemp("vad")
    subprocess.run(
        [
            str(ESBUILD),
            str(ROOT / "frontend" / "src" / "vad.ts"),
            "--format=esm",
            f"--outfile={folder / 'vad.mjs'}",
            "--log-level=error",
        ],
        check=True,
    )
    (folder / "runner.mjs").write_text(RUNNER % {"step": STEP_MS})

    def run(*scenarios: list[float] | dict) -> list[dict]:
        given = [s if isinstance(s, dict) else {"levels": s} for s in scenarios]
        done = subprocess.run(
            ["node", str(folder / "runner.mjs")],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return json.loads(done.stdout)

    return run


def noise(level: float, seconds: float, *, seed: int = 1, spread: float = 0.25) -> list[float]:
    """A room's noise around `level` (RMS), fluctuating by `spread` of it."""
    rng = random.Random(seed)
    return [
        max(0.0, level * (1 + rng.uniform(-spread, spread)))
        for _ in range(int(seconds * 1000 / STEP_MS))
    ]


def speech(level: float, seconds: float, *, seed: int = 2) -> list[float]:
    """Syllables: loud most of the time, with short dips between words."""
    rng = random.Random(seed)
    frames = int(seconds * 1000 / STEP_MS)
    return [level * (0.35 if i % 7 == 6 else rng.uniform(0.7, 1.3)) for i in range(frames)]


def test_quiet_room_question_starts_and_ends_about_a_second_after_it(run):
    levels = noise(0.004, 2) + speech(0.25, 2.5) + noise(0.004, 3)
    [result] = run(levels)
    assert [decision for _t, decision in result["events"]] == ["start", "end"]
    (start, _), (end, _) = result["events"]
    assert start == 2000  # the first loud reading
    assert 4500 + 1100 <= end <= 4500 + 1400  # about QUIET_MS after the last word


def test_a_noisy_room_does_not_start_a_recording_that_never_ends(run):
    # A fan or a class chatting: steady noise above the level a silent room's speech needs.
    hum = noise(0.08, 6, seed=3)
    [result] = run(hum + speech(0.45, 2.5) + noise(0.08, 3, seed=4))
    events = result["events"]
    assert [decision for _t, decision in events] == ["start", "end"]
    assert events[0][0] == 6000  # nothing started on the noise alone
    assert events[1][0] <= 8500 + 1400  # ended back at the noise, not at the time limit


def test_noise_that_rises_slowly_is_learnt_not_taken_for_speech(run):
    frames = int(20 * 1000 / STEP_MS)
    rising = [0.005 + 0.12 * i / frames for i in range(frames)]
    [result] = run(rising)
    assert result["events"] == []
    assert 0.08 < result["floor"] < 0.125


def test_a_click_or_a_cough_is_dropped_not_sent(run):
    [result] = run([*noise(0.004, 1), 0.5, 0.4, *noise(0.004, 2)])
    assert [decision for _t, decision in result["events"]] == ["start", "drop"]


def test_nothing_starts_while_not_listening_and_the_floor_recovers_after_the_reply(run):
    # While the tutor speaks (or an upload runs) the page does not listen; a loud second
    # of reply leaking into the microphone must not leave the room seeming noisy after it.
    levels = noise(0.004, 1) + [0.3] * 20 + noise(0.004, 1)
    [result] = run({"levels": levels, "listening": False})
    assert result["events"] == []
    assert result["floor"] < 0.02


def test_hands_free_turned_on_in_a_noisy_room_learns_it_before_listening(run):
    [result] = run(noise(0.1, 3, seed=5) + speech(0.5, 2) + noise(0.1, 3, seed=6))
    assert [decision for _t, decision in result["events"]] == ["start", "end"]
    assert result["events"][0][0] == 3000


def test_a_take_cut_at_the_time_limit_relearns_the_louder_room(run):
    # A machine switched on mid-take: the take never finds a pause, the page stops it at
    # its time limit (55 s; 5 s here) and recalibrates; the machine's noise alone then
    # starts nothing, and the student's next question is still heard.
    quiet, machine = noise(0.004, 2), noise(0.15, 12, seed=7)
    levels = quiet + machine + speech(0.6, 2) + noise(0.15, 3, seed=8)
    [result] = run({"levels": levels, "recalibrateAt": int(7000 / STEP_MS)})
    decisions = [decision for _t, decision in result["events"]]
    assert decisions == ["start", "start", "end"]
    assert result["events"][1][0] == 14000  # the question, not the machine
