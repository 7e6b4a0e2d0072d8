"""Speech-to-text encoder window sweep: word error rate and real-time factor of
voice.stt.transcribe for several window settings on a wider corpus than bench_voice.py.

bench_voice.py reports the configured fitted window against Whisper's standard 30 s window
on six questions per language read at one speed; that set is too small to tell the two
apart on word errors (one misheard word moves WER by two points). This sweep reads 18
sentences per language (bench_voice.py's six and twelve more, with numbers, fractions and
subject words) at two espeak-ng speeds (140 and 175 words a minute), 36 clips a language,
and transcribes each one with every setting given as MIN_WINDOW:MARGIN (seconds):

* MIN_WINDOW: the shortest encoder window (VOICE_STT_MIN_WINDOW_SECONDS); 30 turns fitting
  off, which is the baseline of the same run;
* MARGIN: silence after the speech in the window (voice.stt.WINDOW_MARGIN_SECONDS).

WER and RTF are computed as in bench_voice.py (language given, beam as configured).

Usage: .venv/bin/python bench/bench_voice_window.py [30:5 10:5 15:5 ...]
Writes bench/results/voice-window.json.
"""

import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "voice-window.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from bench_voice import CORPUS, _git_commit, edit_distance, hear, normalise, speak  # noqa: E402

MORE = {
    "en": [
        "Is seven times eight fifty six?",
        "I don't understand why the sky is blue.",
        "My answer is three quarters.",
        "Why do we need to find a common denominator first?",
        "Could you show me another example with bigger numbers please?",
        "Thank you, that makes sense now.",
        "The triangle has three equal sides, so it is equilateral.",
        "What happens to water when it freezes?",
        "I got twelve, is that right?",
        "Can we go back to the previous question?",
        "Photosynthesis happens in the leaves of the plant.",
        "How many centimetres are in one metre?",
    ],
    "es": [
        "¿Siete por ocho es cincuenta y seis?",
        "No entiendo por qué el cielo es azul.",
        "Mi respuesta es tres cuartos.",
        "¿Por qué hay que buscar un denominador común primero?",
        "¿Puedes mostrarme otro ejemplo con números más grandes?",
        "Gracias, ahora lo entiendo.",
        "El triángulo tiene tres lados iguales, así que es equilátero.",
        "¿Qué le pasa al agua cuando se congela?",
        "Me salió doce, ¿está bien?",
        "¿Podemos volver a la pregunta anterior?",
        "La fotosíntesis ocurre en las hojas de la planta.",
        "¿Cuántos centímetros hay en un metro?",
    ],
}
SPEEDS = (140, 175)
DEFAULT_SETTINGS = ("30:5", "10:5", "15:5", "20:5", "10:8")


def main() -> None:
    settings_given = sys.argv[1:] or list(DEFAULT_SETTINGS)
    sweep = [tuple(int(part) for part in item.split(":")) for item in settings_given]

    import django

    django.setup()
    from django.conf import settings

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    from voice import stt
    from voice.services import stt_model, stt_model_path

    model = stt_model()
    beam_size = settings.VOICE_STT_BEAM_SIZE
    margin_configured = stt.WINDOW_MARGIN_SECONDS
    clips: dict[str, list[tuple[str, object]]] = {code: [] for code in CORPUS}
    with tempfile.TemporaryDirectory() as tmp:
        for code, (voice, sentences) in CORPUS.items():
            for index, sentence in enumerate([*sentences, *MORE[code]]):
                for speed in SPEEDS:
                    path = Path(tmp) / f"{code}-{index}-{speed}.wav"
                    data = speak(sentence, voice, path, speed=speed)
                    clips[code].append((sentence, stt.audio_decode(data, max_seconds=60)))
    warm = clips["en"][0][1]
    stt.transcribe(warm, model=model, language="en", beam_size=beam_size)

    rows = []
    try:
        for min_window, margin in sweep:
            stt.WINDOW_MARGIN_SECONDS = margin
            row = {"min_window_seconds": min_window, "margin_seconds": margin}
            for code, items in clips.items():
                errors = words = 0
                busy = heard_seconds = 0.0
                for sentence, audio in items:
                    start = time.perf_counter()
                    text, _ = hear(
                        audio, model, language=code, beam_size=beam_size, min_window=min_window
                    )
                    busy += time.perf_counter() - start
                    heard_seconds += audio.size / stt.SAMPLE_RATE
                    reference = normalise(sentence)
                    errors += edit_distance(reference, normalise(text))
                    words += len(reference)
                row[f"wer_{code}"] = round(errors / words, 4)
                row[f"rtf_{code}"] = round(busy / heard_seconds, 4)
            rows.append(row)
            print(
                f"min window {min_window:>2} s, margin {margin} s: "
                + ", ".join(
                    f"{code} WER {row[f'wer_{code}']:.3f} RTF {row[f'rtf_{code}']:.3f}"
                    for code in clips
                ),
                flush=True,
            )
    finally:
        stt.WINDOW_MARGIN_SECONDS = margin_configured

    report = {
        "clips_per_language": {code: len(items) for code, items in clips.items()},
        "espeak_speeds_wpm": list(SPEEDS),
        "configured": {
            "min_window_seconds": settings.VOICE_STT_MIN_WINDOW_SECONDS,
            "margin_seconds": margin_configured,
        },
        "sweep": rows,
        "models": {
            "stt": settings.VOICE_STT_MODEL,
            "stt_path": stt_model_path().name,
            "stt_compute_type": settings.VOICE_STT_COMPUTE_TYPE,
            "stt_threads": settings.VOICE_STT_THREADS,
            "stt_beam_size": beam_size,
        },
        "machine": {"cpus": os.cpu_count(), "load_average_after": os.getloadavg()},
        "git_commit": _git_commit(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
