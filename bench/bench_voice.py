"""Speech-to-text benchmark: word error rate and real-time factor of voice.stt.

Speaks tutoring questions with espeak-ng (English and Spanish), then checks and
transcribes each one exactly as the speech worker does (voice.stt.audio_decode +
voice.stt.transcribe: PyAV decoding, Silero VAD, faster-whisper) with the configured
model (VOICE_STT_MODEL, default the packaged multilingual base, int8 on the CPU).

* WER: word-level edit distance over all the words spoken, after lower-casing and
  removing accents and punctuation (digits spoken as words by espeak-ng are written as
  words in the references);
* RTF: seconds spent checking and transcribing / seconds of audio, over all utterances
  of a language, after one warm-up transcription (the model loads once per worker);
  also over the sentences read as one passage (`stt_rtf_*_passage`). Short clips are
  heard in fitted encoder windows (VOICE_STT_MIN_WINDOW_SECONDS); the same clips in
  Whisper's standard 30 s window are the baseline of the same run
  (`stt_rtf_*_full_window`, `stt_speedup_*`), and `stt_rtf_*_detect` leaves the language
  to Whisper's detection (among the supported languages), as for an unknown student.

Then end to end, `speech_to_first_audio_ms`: from the end of speech (the recording is
complete and its upload starts) to the first `reply.audio` frame on the tutor socket, with
the real processes on this machine: the inference worker (`python -m inference serve`,
packaged default model, vLLM on the CPU, loopback, API key) and the web server
(`manage.py runserver`, the embedded default on a scratch database with the demo school,
course and assignments; no Redis, so Celery runs eagerly and the upload request itself
transcribes). The demo student logs in through the login form and continues to the
lesson the class page's continue link leads to; each question (espeak-ng WAV, three per
language, interleaved, after one uncounted warm-up that loads Whisper and the voices in
the server) is uploaded to /tutor/lessons/<id>/voice/ and sent as `voice.send` over
/ws/tutor/lessons/<id>/, as the browser does. Reported: medians per language and
overall, and the breakdown (upload + transcription until `turn.saved`, then until
`reply.start`, then until the first `reply.audio`). Both processes are stopped at the end.

Usage: .venv/bin/python bench/bench_voice.py [--repeat N] [--skip-e2e]   (make bench-voice)
Writes bench/results/voice.json.
"""

import argparse
import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import wave
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "voice.json"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

# (espeak-ng voice, Whisper language, sentences a student might say to the tutor)
CORPUS = {
    "en": (
        "en-us",
        [
            "How do I add two fractions with different denominators?",
            "Plants use sunlight to make their own food.",
            "Can you give me a hint for the second exercise?",
            "I think the answer is wrong, but I am not sure why.",
            "What is the difference between a prime number and an odd number?",
            "Please explain the water cycle again, more slowly this time.",
        ],
    ),
    "es": (
        "es",
        [
            "Quiero aprender los números.",
            "¿Cómo se suman dos fracciones?",
            "Las plantas usan la luz del sol para hacer su comida.",
            "Creo que la respuesta está mal, pero no sé por qué.",
            "¿Me puedes dar una pista para el segundo ejercicio?",
            "Explícame otra vez el ciclo del agua, por favor.",
        ],
    ),
}


def normalise(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return "".join(c if c.isalnum() else " " for c in plain).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1]


def speak(text: str, voice: str, path: Path, *, speed: int = 150) -> bytes:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path.read_bytes()


def hear(
    audio, model, *, language: str | None, beam_size: int, min_window: int, allowed=()
) -> tuple[str, str | None]:
    """(text, detected language) of checked audio, as the speech worker hears it; ("", None)
    when nothing is heard (every word then counts as missed)."""
    from voice import stt

    try:
        result = stt.transcribe(
            audio,
            model=model,
            language=language,
            beam_size=beam_size,
            allowed_languages=allowed,
            min_window_seconds=min_window,
        )
    except stt.AudioRejected:
        return "", None
    return result.text, result.language


def run_language(
    code: str,
    model,
    *,
    beam_size: int,
    repeat: int,
    workdir: Path,
    min_window: int,
    detect: bool = False,
    passage: bool = True,
) -> dict:
    """WER and RTF over the corpus of `code` with encoder windows of at least
    `min_window` seconds (30: Whisper's standard); with `detect`, the language is left to
    Whisper among the supported ones, as for a student whose language is unknown."""
    from django.conf import settings

    from voice import stt

    allowed = tuple(language for language, _name in settings.LANGUAGES)
    language = None if detect else code
    detected = 0

    voice, sentences = CORPUS[code]
    errors = words = 0
    audio_seconds = busy_seconds = 0.0
    samples = []
    for index, sentence in enumerate(sentences):
        data = speak(sentence, voice, workdir / f"{code}-{index}.wav")
        for attempt in range(repeat):
            start = time.perf_counter()
            audio = stt.audio_decode(data, max_seconds=settings.VOICE_CLIP_MAX_SECONDS)
            text, heard_language = hear(
                audio,
                model,
                language=language,
                beam_size=beam_size,
                min_window=min_window,
                allowed=allowed,
            )
            detected += attempt == 0 and heard_language == code
            busy_seconds += time.perf_counter() - start
            audio_seconds += audio.size / stt.SAMPLE_RATE
            if attempt == 0:
                reference, hypothesis = normalise(sentence), normalise(text)
                errors += edit_distance(reference, hypothesis)
                words += len(reference)
                samples.append({"said": sentence, "heard": text})
    row = {
        "min_window_seconds": min_window,
        "language": "detected" if detect else "given",
        "wer": round(errors / words, 4),
        "rtf": round(busy_seconds / audio_seconds, 4),
        "audio_seconds": round(audio_seconds / repeat, 2),
        "utterances": len(sentences),
        "language_right": f"{detected}/{len(sentences)}",
        "samples": samples,
    }
    if not passage:
        return row
    # All sentences as one passage: the usual way RTF is quoted (Whisper's 30 s windows
    # make a short utterance pay for a whole window unless the window is fitted).
    data = speak(" ".join(sentences), voice, workdir / f"{code}-passage.wav")
    start = time.perf_counter()
    audio = stt.audio_decode(data, max_seconds=settings.VOICE_CLIP_MAX_SECONDS)
    text = stt.transcribe(
        audio, model=model, language=code, beam_size=beam_size, min_window_seconds=min_window
    ).text
    passage_rtf = (time.perf_counter() - start) / (audio.size / stt.SAMPLE_RATE)
    reference = normalise(" ".join(sentences))
    row["passage_rtf"] = round(passage_rtf, 4)
    row["passage_seconds"] = round(audio.size / stt.SAMPLE_RATE, 2)
    row["passage_wer"] = round(edit_distance(reference, normalise(text)) / len(reference), 4)
    return row


# --- end to end: speech to the first byte of reply audio -----------------------------------

# Questions asked over the socket (the corpus's questions), interleaved en/es, after one
# warm-up question that loads Whisper and the voices in the server (not counted).
E2E_QUESTIONS = {
    "en": [
        "How do I add two fractions with different denominators?",
        "Can you give me a hint for the second exercise?",
        "What is the difference between a prime number and an odd number?",
    ],
    "es": [
        "¿Cómo se suman dos fracciones?",
        "¿Me puedes dar una pista para el segundo ejercicio?",
        "Explícame otra vez el ciclo del agua, por favor.",
    ],
}
E2E_WARMUP = ("en", "Hello, can you help me with this lesson?")
E2E_API_KEY = "bench-voice-worker-key-0123456789"
E2E_MAX_TOKENS = 60
E2E_WORKER_ENV = {"INFERENCE_MAX_MODEL_LEN": "2048", "INFERENCE_KV_CACHE_GB": "0.5"}
DEMO_STUDENT = ("student@demo.exocortex.local", "exocortex-demo")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen, name: str) -> bool:
    """Stop a process started in its own session, with everything it started."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    left = _alive_in_group(process.pid)
    if left:  # children that outlived the leader (vLLM's engine process)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 15  # a killed vLLM worker takes a while to exit
        while (left := _alive_in_group(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.5)
    print(f"{name} stopped" + (f"; STILL RUNNING: {left}" if left else ""))
    return not left


def _alive_in_group(group: int) -> list[str]:
    """`ps` lines of the live (not zombie) processes of a process group."""
    lines = subprocess.run(
        ["ps", "-o", "pid=,stat=,args=", "-g", str(group)], capture_output=True, text=True
    ).stdout.splitlines()
    return [line.strip() for line in lines if line.split()[1:2] and line.split()[1][0] != "Z"]


def _wait_http(url: str, process: subprocess.Popen, log: Path, *, timeout: float, **kw) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=30, **kw).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"{url} did not come up:\n{tail}")
        time.sleep(0.5)


def _log_in(url: str):
    """The demo student logs in through the form; returns (client, lesson page URL,
    voice upload URL, socket path, CSRF token)."""
    import httpx

    client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    email, password = DEMO_STUDENT
    dashboard = client.post(
        "/accounts/login/",
        data={"csrfmiddlewaretoken": token, "email": email, "password": password},
        headers={"Referer": f"{url}/accounts/login/"},
    )
    if "sessionid" not in client.cookies:
        raise RuntimeError(f"login failed ({dashboard.status_code})")
    # the class page (Math 7A), then its continue link: the lesson the student continues to
    classroom = re.search(r'href="(/[^"]*/classes/\d+/)"', dashboard.text).group(1)
    class_page = client.get(classroom)
    cont = re.search(r'href="([^"]+)"[^>]*data-testid="continue"', class_page.text).group(1)
    lesson = client.get(cont)
    voice_url = re.search(r'data-voice-url="([^"]+)"', lesson.text).group(1)
    socket_path = re.search(r'data-tutor-socket="([^"]+)"', lesson.text).group(1)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', lesson.text).group(1)
    return client, str(lesson.url), voice_url, socket_path, csrf


async def _ask(ws, http, voice_url: str, csrf: str, wav: bytes) -> dict:
    """One spoken question: upload the recording, send voice.send, read the frames until
    the reply is done and its audio has stopped coming. Times in ms from the upload start."""
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    response = await http.post(
        voice_url,
        files={"audio": ("question.wav", wav, "audio/wav")},
        headers={"X-CSRFToken": csrf},
    )
    marks["upload"] = time.perf_counter()
    if response.status_code != 201:
        raise RuntimeError(f"upload refused: {response.status_code} {response.text[:200]}")
    await ws.send(json.dumps({"type": "voice.send", "clip_id": response.json()["id"]}))
    heard = reply = ""
    audio_chunks = 0
    audio_seconds = 0.0
    resets = 0
    deadline = time.monotonic() + 180
    while True:
        # After reply.done the last sentences are still being spoken (one at a time, a few
        # seconds each under load): once audio has come, wait for the socket to go quiet,
        # so the next question does not find the tutor still answering.
        # A reply that never gets audio (seen after a garbled transcript) ends the wait 30 s
        # after reply.done: counted as unspoken, left out of the medians.
        spoken = "reply.done" in marks and "reply.audio" in marks
        if spoken:
            wait = 4.0
        elif "reply.done" in marks:
            wait = max(0.1, marks["reply.done"] + 30 - time.perf_counter())
        else:
            wait = max(1.0, deadline - time.monotonic())
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=wait))
        except TimeoutError:
            if "reply.done" in marks:
                break
            raise RuntimeError(f"no reply within 180 s (got {sorted(marks)})") from None
        now = time.perf_counter()
        kind = frame.get("type")
        if kind == "voice.status":
            kind = f"voice.{frame.get('state')}"
            if frame.get("state") in ("failed", "unspoken"):
                raise RuntimeError(f"voice {frame.get('state')}: {frame.get('message')}")
        elif kind in ("error", "reply.error"):
            raise RuntimeError(f"{kind}: {frame.get('message')}")
        marks.setdefault(kind, now)
        if kind == "turn.saved":
            heard = frame["turn"]["text"]
        elif kind == "reply.reset":
            resets += 1
        elif kind == "reply.done":
            reply = frame["turn"]["text"]
        elif kind == "reply.audio":
            audio_chunks += 1
            with wave.open(io.BytesIO(base64.b64decode(frame["audio"]))) as clip:
                audio_seconds += clip.getnframes() / clip.getframerate()
    for needed in ("turn.saved", "reply.start"):
        if needed not in marks:
            raise RuntimeError(f"no {needed} frame (got {sorted(marks)})")
    ms = {key: round((value - t0) * 1000) for key, value in marks.items()}
    first_audio = ms.get("reply.audio")
    return {
        "speech_to_first_audio_ms": first_audio,
        "upload_ms": ms["upload"],
        "to_turn_saved_ms": ms["turn.saved"],
        "turn_saved_to_reply_start_ms": ms["reply.start"] - ms["turn.saved"],
        "reply_start_to_first_audio_ms": first_audio and first_audio - ms["reply.start"],
        "reply_start_to_first_delta_ms": ms.get("reply.delta", ms["reply.start"])
        - ms["reply.start"],
        "reply_done_ms": ms.get("reply.done"),
        "heard": heard,
        "heard_wer": None,  # filled by _ask_all, which knows what was said
        "reply": reply,
        "reply_resets": resets,
        "reply_audio_chunks": audio_chunks,
        "reply_audio_seconds": round(audio_seconds, 2),
    }


async def _ask_all(url: str, cookies, voice_url: str, socket_path: str, csrf: str, clips):
    import httpx
    import websockets

    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    results = []
    async with (
        httpx.AsyncClient(base_url=url, cookies=cookies, timeout=120) as http,
        websockets.connect(
            "ws" + url.removeprefix("http") + socket_path,
            origin=url,
            additional_headers={"Cookie": cookie},
            max_size=None,  # reply.audio frames carry whole WAV sentences
            open_timeout=30,
        ) as ws,
    ):
        for code, text, wav in clips:
            result = await _ask(ws, http, voice_url, csrf, wav)
            reference = normalise(text)
            result["heard_wer"] = round(
                edit_distance(reference, normalise(result["heard"])) / len(reference), 3
            )
            results.append({"language": code, "said": text, **result})
            print(
                f"  {code}: {result['speech_to_first_audio_ms']} ms to first audio "
                f"(turn.saved {result['to_turn_saved_ms']}, reply.start "
                f"+{result['turn_saved_to_reply_start_ms']}, audio "
                f"+{result['reply_start_to_first_audio_ms']}) heard {result['heard']!r}"
            )
    return results


def run_end_to_end(workdir: Path, *, voice_model_dir: str) -> dict:
    """The real inference worker (packaged default model, CPU) and the real web server
    (embedded default: SQLite, Celery eager, so transcription runs in the web process),
    then spoken questions over HTTP + the tutor socket, as the browser sends them."""
    import httpx

    clips = [(E2E_WARMUP[0], E2E_WARMUP[1], speak(E2E_WARMUP[1], "en-us", workdir / "w.wav"))]
    for round_ in range(3):
        for code in ("en", "es"):
            text = E2E_QUESTIONS[code][round_]
            wav = speak(text, CORPUS[code][0], workdir / f"e2e-{code}-{round_}.wav")
            clips.append((code, text, wav))

    var_dir = workdir / "var"
    var_dir.mkdir()
    worker_port = _free_port()
    worker_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "INFERENCE_HOST": "127.0.0.1",
        "INFERENCE_PORT": str(worker_port),
        "INFERENCE_API_KEY": E2E_API_KEY,
        **E2E_WORKER_ENV,
    }
    worker_env.pop("INFERENCE_MODEL", None)  # the packaged default
    worker_url = f"http://127.0.0.1:{worker_port}"
    server_env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    server_env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        EXOCORTEX_VAR_DIR=str(var_dir),
        VOICE_MODEL_DIR=voice_model_dir,  # the Whisper model joined already
        INFERENCE_URL=worker_url,
        INFERENCE_API_KEY=E2E_API_KEY,
        TUTOR_MAX_TOKENS=str(E2E_MAX_TOKENS),
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request
    processes: list[tuple[subprocess.Popen, str]] = []
    stages: dict[str, float] = {}
    stopped: dict[str, bool] = {}
    setup_start = time.perf_counter()
    try:
        worker_log = var_dir / "worker.log"
        worker = subprocess.Popen(
            [sys.executable, "-m", "inference", "serve"],
            cwd=ROOT,
            env=worker_env,
            stdout=worker_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append((worker, "inference worker"))
        # the demo school, course and assignments while the worker loads
        for command in ("migrate", "load_demo", "load_demo_course", "load_demo_assignments"):
            subprocess.run(
                [*manage, command, *(["--noinput", "-v0"] if command == "migrate" else [])],
                env=server_env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        stages["demo_loaded_s"] = time.perf_counter() - setup_start
        server_port = _free_port()
        url = f"http://127.0.0.1:{server_port}"
        server_log = var_dir / "server.log"
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{server_port}"],
            cwd=ROOT,
            env=server_env,
            stdout=server_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append((server, "web server"))
        _wait_http(f"{url}/health/", server, server_log, timeout=60)
        stages["server_up_s"] = time.perf_counter() - setup_start
        _wait_http(
            f"{worker_url}/ready",
            worker,
            worker_log,
            timeout=300,
            headers={"Authorization": f"Bearer {E2E_API_KEY}"},
        )
        models = httpx.get(
            f"{worker_url}/v1/models", headers={"Authorization": f"Bearer {E2E_API_KEY}"}
        ).json()
        stages["worker_ready_s"] = setup_seconds = time.perf_counter() - setup_start
        client, lesson_url, voice_url, socket_path, csrf = _log_in(url)
        cookies = dict(client.cookies.items())
        client.close()
        print(
            f"demo loaded in {stages['demo_loaded_s']:.0f} s, server up at "
            f"{stages['server_up_s']:.0f} s, worker ready at {setup_seconds:.0f} s; "
            f"asking in {lesson_url.removeprefix(url)}"
        )
        results = asyncio.run(_ask_all(url, cookies, voice_url, socket_path, csrf, clips))
    finally:
        for process, name in reversed(processes):
            stopped[name] = _stop(process, name)
    warmup, asked = results[0], results[1:]

    def summary(rows: list[dict]) -> dict:
        keys = (
            "speech_to_first_audio_ms",
            "upload_ms",
            "to_turn_saved_ms",
            "turn_saved_to_reply_start_ms",
            "reply_start_to_first_audio_ms",
            "reply_start_to_first_delta_ms",
        )
        spoken = [row for row in rows if row["speech_to_first_audio_ms"] is not None]
        return {
            **{key: round(statistics.median(row[key] for row in spoken)) for key in keys},
            "questions": len(rows),
            "unspoken": len(rows) - len(spoken),
        }

    by_language = {code: [r for r in asked if r["language"] == code] for code in E2E_QUESTIONS}
    return {
        "overall": summary(asked),
        **{code: summary(rows) for code, rows in by_language.items()},
        "warmup": warmup,
        "runs": asked,
        "lesson_url": lesson_url.removeprefix(url),
        "worker_model": [m.get("id") for m in models.get("data", [])],
        "tutor_max_tokens": E2E_MAX_TOKENS,
        "setup_seconds": {key: round(value, 1) for key, value in stages.items()},
        "processes_stopped": stopped,
    }


def _git_commit() -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="transcriptions per utterance")
    parser.add_argument(
        "--skip-e2e",
        action="store_true",
        help="speech-to-text only: no worker, no server; speech_to_first_audio_ms stays null",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one line per clip

    from voice import stt
    from voice.services import stt_model, stt_model_path

    load_start = time.perf_counter()
    model = stt_model()
    load_seconds = time.perf_counter() - load_start
    beam_size = settings.VOICE_STT_BEAM_SIZE
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        warm = speak("Hello, this is a warm-up.", "en-us", workdir / "warm.wav")
        stt.transcribe(
            stt.audio_decode(warm, max_seconds=60), model=model, language="en", beam_size=beam_size
        )
        common = {"beam_size": beam_size, "repeat": args.repeat, "workdir": workdir}
        fitted_window = settings.VOICE_STT_MIN_WINDOW_SECONDS
        results = {
            code: run_language(code, model, min_window=fitted_window, **common) for code in CORPUS
        }
        # Baseline in the same run: Whisper's standard 30 s window for every clip.
        full = {code: run_language(code, model, min_window=30, **common) for code in CORPUS}
        detect = {
            code: run_language(
                code, model, min_window=fitted_window, detect=True, passage=False, **common
            )
            for code in CORPUS
        }
        e2e = None
        load_before_e2e = os.getloadavg()
        if not args.skip_e2e:
            print("speech to first reply audio (real worker and server):")
            e2e = run_end_to_end(workdir, voice_model_dir=str(settings.VOICE_MODEL_DIR))
    from voice.tts import voice_for

    def breakdown(summary: dict) -> dict:
        return {
            "upload_and_transcription_to_turn_saved": summary["to_turn_saved_ms"],
            "turn_saved_to_reply_start": summary["turn_saved_to_reply_start_ms"],
            "reply_start_to_first_audio": summary["reply_start_to_first_audio_ms"],
        }

    report = {
        "stt_rtf_en": results["en"]["rtf"],
        "wer_en": results["en"]["wer"],
        "stt_rtf_es": results["es"]["rtf"],
        "wer_es": results["es"]["wer"],
        "stt_rtf_en_passage": results["en"]["passage_rtf"],
        "stt_rtf_es_passage": results["es"]["passage_rtf"],
        "stt_min_window_seconds": fitted_window,
        # The same clips in Whisper's standard 30 s window (the baseline, same run), and
        # with the language left to detection (fitted windows).
        "stt_rtf_en_full_window": full["en"]["rtf"],
        "wer_en_full_window": full["en"]["wer"],
        "stt_rtf_es_full_window": full["es"]["rtf"],
        "wer_es_full_window": full["es"]["wer"],
        "stt_speedup_en": round(full["en"]["rtf"] / results["en"]["rtf"], 2),
        "stt_speedup_es": round(full["es"]["rtf"] / results["es"]["rtf"], 2),
        "stt_rtf_en_detect": detect["en"]["rtf"],
        "stt_rtf_es_detect": detect["es"]["rtf"],
        "language_detected_right": {code: detect[code]["language_right"] for code in CORPUS},
        "speech_to_first_audio_ms": e2e and e2e["overall"]["speech_to_first_audio_ms"],
        "speech_to_first_audio_ms_en": e2e and e2e["en"]["speech_to_first_audio_ms"],
        "speech_to_first_audio_ms_es": e2e and e2e["es"]["speech_to_first_audio_ms"],
        "speech_to_first_audio_breakdown_ms": e2e
        and {
            "overall": breakdown(e2e["overall"]),
            **{code: breakdown(e2e[code]) for code in E2E_QUESTIONS},
        },
        "models": {
            "stt": settings.VOICE_STT_MODEL,
            "stt_path": str(stt_model_path().name),
            "stt_engine": "faster-whisper (CTranslate2)",
            "stt_device": settings.VOICE_STT_DEVICE,
            "stt_compute_type": settings.VOICE_STT_COMPUTE_TYPE,
            "stt_threads": settings.VOICE_STT_THREADS,
            "stt_beam_size": beam_size,
            "speech_source": "espeak-ng "
            + subprocess.run(
                ["espeak-ng", "--version"], capture_output=True, text=True, check=False
            ).stdout.split()[3],
            "llm": e2e and e2e["worker_model"],
            "llm_engine": "vLLM on the CPU (python -m inference serve, packaged default)",
            "tts": {
                code: f"{voice_for(code).engine} {voice_for(code).name}" for code in E2E_QUESTIONS
            },
        },
        "stt_model_load_s": round(load_seconds, 2),
        "details": {
            **results,
            "full_window": full,
            "detected_language": detect,
            "end_to_end": e2e,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_before_e2e": [round(x, 2) for x in load_before_e2e],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "git_commit": _git_commit(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for code in CORPUS:
        r = results[code]
        print(
            f"{code}: utterances WER {r['wer']:.3f} RTF {r['rtf']:.3f}; "
            f"{r['passage_seconds']:.0f} s passage WER {r['passage_wer']:.3f} "
            f"RTF {r['passage_rtf']:.3f}"
        )
        b, d = full[code], detect[code]
        print(
            f"{code}: full 30 s window (baseline) WER {b['wer']:.3f} RTF {b['rtf']:.3f} "
            f"-> fitted {b['rtf'] / r['rtf']:.2f}x faster; with detection RTF {d['rtf']:.3f}, "
            f"language right {d['language_right']}"
        )
    if e2e:
        for key in ("overall", *E2E_QUESTIONS):
            row = e2e[key]
            print(
                f"speech to first audio, {key}: median {row['speech_to_first_audio_ms']} ms "
                f"(upload+transcription to turn.saved {row['to_turn_saved_ms']}, "
                f"+{row['turn_saved_to_reply_start_ms']} to reply.start, "
                f"+{row['reply_start_to_first_audio_ms']} to first reply.audio)"
            )
    print(f"load average {report['machine']['load_average_before']} on {os.cpu_count()} CPUs")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
