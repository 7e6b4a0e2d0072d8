"""Voice fixtures: speech spoken by espeak-ng, tones and noise written as WAV, the real
packaged Whisper model (loaded once per test session)."""

import io
import shutil
import subprocess
import unicodedata
import wave
from pathlib import Path

import numpy as np

RATE = 16_000


def speak(text: str, *, voice: str, path: Path, speed: int = 150) -> bytes:
    """`text` spoken by espeak-ng (voice "en-us", "es", ...) as WAV bytes, also saved at `path`."""
    assert shutil.which("espeak-ng"), "espeak-ng is missing: .ci/run installs it"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path.read_bytes()


def wav_bytes(samples: np.ndarray, *, rate: int = RATE) -> bytes:
    """Float samples in [-1, 1] as 16-bit mono WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def tone(seconds: float, *, amplitude: float = 0.3, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * hz * t)


def words(text: str) -> set[str]:
    """Lower-case words without accents or punctuation, for comparing transcripts."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return set("".join(c if c.isalnum() else " " for c in plain).split())
