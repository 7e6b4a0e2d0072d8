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
  also over the sentences read as one passage (`stt_rtf_*_passage`): Whisper encodes
  30 s windows, so a 3 s utterance costs nearly as much as a 30 s one.

`speech_to_first_audio_ms` (end of speech to the first byte of reply audio) needs the
socket flow and stays null until it exists.

Usage: .venv/bin/python bench/bench_voice.py [--repeat N]   (make bench-voice)
Writes bench/results/voice.json.
"""

import argparse
import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import unicodedata
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


def speak(text: str, voice: str, path: Path) -> bytes:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path.read_bytes()


def run_language(code: str, model, *, beam_size: int, repeat: int, workdir: Path) -> dict:
    from django.conf import settings

    from voice import stt

    voice, sentences = CORPUS[code]
    errors = words = 0
    audio_seconds = busy_seconds = 0.0
    samples = []
    for index, sentence in enumerate(sentences):
        data = speak(sentence, voice, workdir / f"{code}-{index}.wav")
        for attempt in range(repeat):
            start = time.perf_counter()
            audio = stt.audio_decode(data, max_seconds=settings.VOICE_CLIP_MAX_SECONDS)
            try:
                text = stt.transcribe(audio, model=model, language=code, beam_size=beam_size).text
            except stt.AudioRejected:  # heard nothing: every word counts as missed
                text = ""
            busy_seconds += time.perf_counter() - start
            audio_seconds += audio.size / stt.SAMPLE_RATE
            if attempt == 0:
                reference, hypothesis = normalise(sentence), normalise(text)
                errors += edit_distance(reference, hypothesis)
                words += len(reference)
                samples.append({"said": sentence, "heard": text})
    # All sentences as one passage: the usual way RTF is quoted (Whisper encodes 30 s
    # windows, so a short utterance pays for a whole window).
    passage = speak(" ".join(sentences), voice, workdir / f"{code}-passage.wav")
    start = time.perf_counter()
    audio = stt.audio_decode(passage, max_seconds=settings.VOICE_CLIP_MAX_SECONDS)
    text = stt.transcribe(audio, model=model, language=code, beam_size=beam_size).text
    passage_rtf = (time.perf_counter() - start) / (audio.size / stt.SAMPLE_RATE)
    reference = normalise(" ".join(sentences))
    return {
        "passage_rtf": round(passage_rtf, 4),
        "passage_seconds": round(audio.size / stt.SAMPLE_RATE, 2),
        "passage_wer": round(edit_distance(reference, normalise(text)) / len(reference), 4),
        "wer": round(errors / words, 4),
        "rtf": round(busy_seconds / audio_seconds, 4),
        "audio_seconds": round(audio_seconds / repeat, 2),
        "utterances": len(sentences),
        "samples": samples,
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
        results = {
            code: run_language(
                code, model, beam_size=beam_size, repeat=args.repeat, workdir=workdir
            )
            for code in CORPUS
        }
    report = {
        "stt_rtf_en": results["en"]["rtf"],
        "wer_en": results["en"]["wer"],
        "stt_rtf_es": results["es"]["rtf"],
        "wer_es": results["es"]["wer"],
        "stt_rtf_en_passage": results["en"]["passage_rtf"],
        "stt_rtf_es_passage": results["es"]["passage_rtf"],
        "speech_to_first_audio_ms": None,
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
        },
        "stt_model_load_s": round(load_seconds, 2),
        "details": results,
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load_average_before": [round(x, 2) for x in load_before],
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
    print(f"load average {report['machine']['load_average_before']} on {os.cpu_count()} CPUs")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
