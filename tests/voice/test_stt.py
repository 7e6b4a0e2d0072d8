"""voice.stt: what is refused before transcription, and how packaged models are assembled."""

import io
import os

import av
import numpy as np
import pytest

from tests.voice.conftest import RATE, speak, tone, wav_bytes, words
from voice import stt


def _reason(data: bytes, *, max_seconds: float = 60) -> str:
    with pytest.raises(stt.AudioRejected) as caught:
        stt.audio_decode(data, max_seconds=max_seconds)
    return caught.value.reason


def _encode(codec: str, container: str, samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype("<i2").reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def test_probe_reads_a_wav_header():
    probe = stt.audio_probe(wav_bytes(tone(2.0)), max_seconds=60)

    assert (probe.container, probe.codec, probe.content_type) == ("wav", "pcm_s16le", "audio/wav")
    assert probe.declared_seconds == pytest.approx(2.0)


def test_probe_accepts_ogg_opus_as_browsers_record_it():
    probe = stt.audio_probe(_encode("libopus", "ogg", tone(1.0)), max_seconds=60)

    assert (probe.codec, probe.content_type) == ("opus", "audio/ogg")


@pytest.mark.parametrize(
    "data",
    [
        b"This is not a recording, just a note." * 20,
        b"%PDF-1.7\n" + os.urandom(4000),
        b"\x89PNG\r\n\x1a\n" + os.urandom(2000),
        b"RIFF\x24\x08\x00\x00WAVEfmt " + os.urandom(64),  # a damaged WAV header
    ],
)
def test_non_audio_is_refused(data):
    assert _reason(data) == "not_audio"


def test_empty_data_is_refused():
    with pytest.raises(stt.AudioRejected) as caught:
        stt.audio_probe(b"", max_seconds=60)

    assert caught.value.reason == "empty"


def test_an_unsupported_codec_is_refused():
    data = _encode("adpcm_ima_wav", "wav", tone(1.0))

    assert _reason(data) == "unsupported_codec"


def test_a_recording_over_the_cap_is_refused_from_its_header():
    with pytest.raises(stt.AudioRejected) as caught:
        stt.audio_probe(wav_bytes(tone(3.0)), max_seconds=2)

    assert caught.value.reason == "too_long"


def test_a_recording_that_hides_its_length_is_cut_off_while_decoding(monkeypatch):
    # A live WebM recording states no length in its header: only decoding finds out.
    headerless = stt.Probe("matroska,webm", "opus", "audio/webm", declared_seconds=None)
    monkeypatch.setattr(stt, "audio_probe", lambda data, max_seconds: headerless)

    assert _reason(wav_bytes(tone(3.0)), max_seconds=2) == "too_long"


def test_a_very_short_recording_is_refused():
    assert _reason(wav_bytes(tone(0.1))) == "too_short"


def test_a_clipped_recording_is_refused():
    assert _reason(wav_bytes(np.clip(tone(2.0, amplitude=4.0), -1, 1))) == "clipped"


def test_digital_silence_is_refused_without_the_model():
    assert _reason(wav_bytes(np.zeros(2 * RATE))) == "silence"


def test_noise_without_speech_is_refused_by_the_vad():
    noise = np.random.default_rng(7).normal(0, 0.02, 3 * RATE).astype(np.float32)

    with pytest.raises(stt.AudioRejected) as caught:
        stt.speech_span(noise)

    assert caught.value.reason == "silence"


def test_the_vad_finds_the_spoken_part(tmp_path):
    speech = speak("Hello there.", voice="en-us", path=tmp_path / "s.wav")
    audio = stt.audio_decode(speech, max_seconds=60)
    padded = np.concatenate([np.zeros(2 * RATE, np.float32), audio, np.zeros(2 * RATE, np.float32)])

    first, last = stt.speech_span(padded)

    assert RATE < first < 2 * RATE + RATE // 2
    assert padded.size - 2 * RATE - RATE // 2 < last < padded.size - RATE


def test_packaged_base_model_is_assembled_once_and_checked(tmp_path):
    folder = stt.model_path("base", cache_dir=tmp_path)

    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert stt._sha256(folder / "model.bin") == stt.PACKAGED["base"].sha256
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert stt.model_path("base", cache_dir=tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary folder left


def test_a_model_that_fails_its_checksum_is_not_installed(tmp_path, monkeypatch):
    tampered = stt._Packaged(
        parts=stt.PACKAGED["tiny.en"].parts, extras=stt.PACKAGED["tiny.en"].extras, sha256="0" * 64
    )
    monkeypatch.setitem(stt.PACKAGED, "tiny.en", tampered)

    with pytest.raises(stt.ModelUnavailable, match="sha256"):
        stt.model_path("tiny.en", cache_dir=tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_model_folder_path_is_used_as_it_is(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"weights")

    assert stt.model_path(str(tmp_path), cache_dir=tmp_path / "cache") == tmp_path
    with pytest.raises(stt.ModelUnavailable):
        stt.model_path("large-v9", cache_dir=tmp_path / "cache")


# --- transcription windows ----------------------------------------------------------------

QUESTION = "Could you explain what a denominator is?"


@pytest.mark.speech
def test_a_short_question_is_heard_in_a_fitted_window(whisper, tmp_path):
    audio = stt.audio_decode(
        speak(QUESTION, voice="en-us", path=tmp_path / "q.wav"), max_seconds=60
    )

    result = stt.transcribe(
        audio, model=whisper, language=None, beam_size=5, allowed_languages=("en", "es", "fr", "ar")
    )

    assert result.window_seconds == 10
    assert result.language == "en"
    assert 0 < result.language_probability <= 1
    assert {"explain", "what", "is"} <= words(result.text)


@pytest.mark.speech
def test_fitted_and_full_windows_hear_the_same_question(whisper, tmp_path):
    data = speak("Quiero aprender los números.", voice="es", path=tmp_path / "q.wav")
    audio = stt.audio_decode(data, max_seconds=60)

    fitted = stt.transcribe(audio, model=whisper, language="es", beam_size=5)
    full = stt.transcribe(audio, model=whisper, language="es", beam_size=5, min_window_seconds=30)

    assert (fitted.window_seconds, full.window_seconds) == (10, 30)
    assert words(fitted.text) == words(full.text) == {"quiero", "aprender", "los", "numeros"}


@pytest.mark.speech
def test_long_speech_goes_through_whisper_s_full_windows(whisper, tmp_path):
    data = speak(QUESTION, voice="en-us", path=tmp_path / "q.wav")
    question = stt.audio_decode(data, max_seconds=60)
    gap = np.zeros(RATE // 2, np.float32)
    audio = np.concatenate([question, gap] * 10)
    assert audio.size / RATE > 25  # speech + margin would not fit in a shorter window

    result = stt.transcribe(audio, model=whisper, language="en", beam_size=5)

    assert result.window_seconds == 30
    assert {"explain", "what"} <= words(result.text)


def test_a_looping_decoding_is_recognised_by_its_compression_ratio():
    assert stt._compression_ratio("How many centimetres are in one metre?") < 2.4
    assert stt._compression_ratio("How many centimetres are in one metre? " * 6) > 2.4
    assert stt._compression_ratio("") == 0.0
