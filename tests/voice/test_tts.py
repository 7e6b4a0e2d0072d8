"""voice.tts: real synthesis (Piper for English, espeak-ng for the fallback languages),
Markdown and LaTeX read as words, sentence-by-sentence streaming, and bad input."""

import asyncio
import io
import threading
import time
import wave

import pytest

from voice import tts

pytestmark = pytest.mark.speech

# Measured on the 2-core CI machine: Piper (joe) ~0.058 s of audio per character in
# English, espeak-ng at 160 wpm ~0.06 (French) to ~0.11 (Arabic). Bounds with headroom.
SECONDS_PER_CHAR = (0.035, 0.2)

SENTENCES = {
    "en": "Let's work out what fraction of the pizza is left. You ate one quarter of it.",
    "es": "Vamos a calcular qué fracción de la pizza queda. Comiste un cuarto de ella.",
    "fr": "Calculons quelle fraction de la pizza il reste. Tu en as mangé un quart.",
    "ar": "لنحسب الكسر المتبقي من البيتزا. أكلت ربعها، فكم بقي منها؟",
}


def _params(wav_bytes: bytes) -> tuple[int, int, int, float]:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        frames = wav.getnframes()
        assert len(wav.readframes(frames)) == frames * 2  # the header's length is the truth
        return (
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getframerate(),
            frames / wav.getframerate(),
        )


@pytest.mark.parametrize("language", ["en", "es", "fr", "ar"])
def test_each_language_is_spoken_as_a_valid_wav_of_plausible_length(language):
    text = SENTENCES[language]

    channels, width, rate, seconds = _params(tts.synthesize(text, language=language))

    assert (channels, width, rate) == (1, 2, 22050)
    low, high = SECONDS_PER_CHAR
    assert low * len(text) < seconds < high * len(text)


def test_english_is_piper_and_the_others_are_labelled_fallbacks():
    english = tts.voice_for("en-US")
    others = [tts.voice_for(code) for code in ("es", "fr_FR", "AR")]

    assert (english.engine, english.name, english.is_fallback) == (
        "piper",
        "en_US-joe-medium",
        False,
    )
    assert str(english.notice) == ""
    assert [(v.language, v.engine, v.name, v.is_fallback) for v in others] == [
        ("es", "espeak-ng", "es-419", True),
        ("fr", "espeak-ng", "fr-fr", True),
        ("ar", "espeak-ng", "ar", True),
    ]
    assert all("eSpeak NG" in str(v.label) and "robotic" in str(v.notice) for v in others)
    assert all(tts.available(code) for code in ("en", "es", "fr", "ar"))


def test_a_language_without_any_voice_is_refused():
    with pytest.raises(tts.TTSError) as caught:
        tts.synthesize("Hallo", language="de")

    assert caught.value.code == "unsupported_language"
    assert tts.available("de") is False


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "en",
            r"**Great job!** You found $\frac{3}{4}$ of it.",
            "Great job! You found 3 over 4 of it.",
        ),
        ("en", r"Solve $x^2 + 3x - 4 = 0$.", "Solve x squared plus 3x minus 4 equals 0."),
        ("en", r"$$\sqrt{16} \cdot 2 \neq 9$$", "the square root of 16 times 2 is not equal to 9."),
        ("en", r"\(a_{1} \leq \dfrac{x}{2}\)", "a 1 is less than or equal to x over 2."),
        (
            "en",
            "Then 3/4 = 0.75 and 2 * 3 = 6; 90^\\circ.",
            "Then 3 over 4 equals 0.75 and 2 times 3 equals 6; 90 degrees.",
        ),
        ("en", "## Step 1\n- Divide by `2`\n1. Check", "Step 1. Divide by 2. 1. Check."),
        (
            "en",
            "See [the docs](https://x.org/a?b=1) and ![a graph](g.png).",
            "See the docs and a graph.",
        ),
        ("en", "Code:\n```python\nprint(x**2)\n```\nDone.", "Code: Done."),
        ("en", "| a | b |\n|---|---|\n| 1 | 2 |", "a, b. 1, 2."),
        ("en", "It costs $5 and $10.", "It costs $5 and $10."),
        ("en", "snake_case, _italic_ and ~~old~~ <b>bold</b>", "snake_case, italic and old bold."),
        ("es", r"Es $\frac{1}{2}$ y $x \geq 3$.", "Es 1 sobre 2 y x es mayor o igual que 3."),
        (
            "fr",
            "On a $a \\neq b$ et 2 \N{MULTIPLICATION SIGN} 3 = 6.",
            "On a a est différent de b et 2 fois 3 égale 6.",
        ),
        ("ar", r"إذا كان $x + 2 = 5$ فما قيمة x؟", "إذا كان x زائد 2 يساوي 5 فما قيمة x؟"),
        ("en", "```\nonly code\n```", ""),
        ("en", "--- *** ---", ""),
    ],
)
def test_markdown_and_latex_become_words(language, text, expected):
    assert tts.speakable(text, language=language) == expected


def test_markup_is_not_read_aloud():
    """espeak-ng is deterministic: the marked-up text sounds exactly like its words."""
    marked = r"## Step 2" + "\n" + r"**Bien:** $\frac{3}{4} = 0.75$ y `x` es [esto](http://a.b)."
    plain = "Step 2. Bien: 3 sobre 4 es igual a 0.75 y x es esto."

    assert tts.synthesize(marked, language="es") == tts.synthesize(plain, language="es")


def _fed(text: str, size: int) -> list[str]:
    splitter = tts.SentenceSplitter(language="en")
    out: list[str] = []
    for start in range(0, len(text), size):
        out += splitter.feed(text[start : start + size])
    return out + splitter.finish()


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_the_splitter_cuts_at_sentence_ends_whatever_the_delta_size(size):
    reply = (
        "Hi there! Is 0.75 a fraction? Let's see.\n\n"
        "1. Write it as $\\frac{75}{100}. Then$ simplify... "
        "Here:\n```py\nx = 1. y = 2. \n```\n"
        "**Done.** Is it 3/4?"
    )

    assert _fed(reply, size) == [
        "Hi there!",
        "Is 0.75 a fraction?",
        "Let's see.",
        "1. Write it as 75 over 100. Then simplify...",
        "Here:",
        "Done.",
        "Is it 3 over 4?",
    ]


def test_the_splitter_releases_a_runaway_sentence_at_a_space():
    splitter = tts.SentenceSplitter(language="en")
    words = "word " * 100  # 500 characters, no sentence end

    first = splitter.feed(words)
    rest = splitter.finish()

    assert len(first) == 1
    assert len(first[0]) <= tts.MAX_SENTENCE_CHARS
    assert " ".join(first + rest).replace(".", "").split() == ["word"] * 100


def test_speech_streams_one_chunk_per_sentence_before_the_reply_ends():
    sentences = ["The answer is close.", "Check the second step again!", "What do you get?"]
    reply = " ".join(sentences)
    fed: list[int] = []

    def deltas():
        for start in range(0, len(reply), 4):
            fed.append(start)
            yield reply[start : start + 4]

    tts.preload("en")
    chunks = []
    fed_at_first_chunk = None
    for chunk in tts.speak_stream(deltas(), language="en"):
        if fed_at_first_chunk is None:
            fed_at_first_chunk = len(fed)
        chunks.append(chunk)

    assert [(c.index, c.text) for c in chunks] == list(enumerate(sentences))
    assert fed_at_first_chunk < len(fed) / 2  # the first sentence spoke mid-reply
    for chunk, sentence in zip(chunks, sentences, strict=True):
        assert _params(chunk.wav)[:3] == (1, 2, 22050)
        assert SECONDS_PER_CHAR[0] * len(sentence) < chunk.duration_s < 3 + 0.2 * len(sentence)


async def test_the_speaker_speaks_in_order_without_holding_up_the_stream():
    sentences = ["The answer is close.", "Check the second step again!", "What do you get?"]
    reply = " ".join(sentences)
    chunks: list[tts.SpeechChunk] = []
    first_spoken = asyncio.Event()

    async def on_chunk(chunk):
        chunks.append(chunk)
        first_spoken.set()

    await asyncio.to_thread(tts.preload, "en")  # as a voice session does when it opens
    speaker = tts.SentenceSpeaker(language="en", on_chunk=on_chunk)
    deltas = [reply[start : start + 4] for start in range(0, len(reply), 4)]
    feeding = 0.0
    for delta in deltas[:-1]:
        began = time.perf_counter()
        speaker.feed(delta)
        feeding += time.perf_counter() - began
        await asyncio.sleep(0.01)
    # The reply is not finished, yet the first sentence is spoken (however busy the CPU).
    await asyncio.wait_for(first_spoken.wait(), timeout=30)
    speaker.feed(deltas[-1])
    await speaker.finish()

    assert [(c.index, c.text) for c in chunks] == list(enumerate(sentences))
    assert feeding < 0.05  # feeding never waited for synthesis (a sentence takes ~0.3 s)
    assert all(c.duration_s > 0.5 for c in chunks)


async def test_the_speaker_can_be_cancelled_and_reports_failures():
    async def on_chunk(chunk):
        pass

    interrupted = tts.SentenceSpeaker(language="en", on_chunk=on_chunk)
    interrupted.feed("A long answer begins here. And goes on.")
    interrupted.cancel()
    with pytest.raises(asyncio.CancelledError):
        await interrupted.finish()

    failing = tts.SentenceSpeaker(language="es", on_chunk=on_chunk)
    failing.voice = tts.Voice("es", "espeak-ng", "nosuchvoice", "Spanish", is_fallback=True)
    failing.feed("Hola. ")
    with pytest.raises(tts.TTSError) as caught:
        await failing.finish()
    assert caught.value.code == "engine_failed"


def test_the_piper_voice_is_loaded_once_and_threads_can_speak_at_once():
    results: list[bytes] = []
    voices: list[object] = []

    def speak():
        voices.append(tts._piper_voice())
        results.append(tts.synthesize("One moment please.", language="en"))

    threads = [threading.Thread(target=speak) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 3
    assert all(voice is voices[0] for voice in voices)
    assert all(0.5 < tts.wav_duration(wav) < 3 for wav in results)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("```\nprint(1)\n```", "empty"),
        ("$$ $$ **", "empty"),
        ("a" * (tts.MAX_CHARS + 1), "too_long"),
    ],
)
@pytest.mark.parametrize("language", ["en", "es"])
def test_bad_text_gets_a_clear_error(language, text, code):
    with pytest.raises(tts.TTSError) as caught:
        tts.synthesize(text, language=language)

    assert caught.value.code == code
    assert caught.value.message


def test_a_missing_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)

    with pytest.raises(tts.TTSError) as caught:
        tts.synthesize("Hola.", language="es")

    assert caught.value.code == "engine_missing"
    assert "espeak-ng" in caught.value.message
    assert tts.available("es") is False


def test_a_missing_piper_voice_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tts, "PIPER_VOICE_PACKAGE", "no-such-voice-package")

    with pytest.raises(tts.TTSError) as caught:
        tts._piper_model_path()

    assert caught.value.code == "engine_missing"
    assert "install_tts.sh" in caught.value.message
    assert tts.available("en") is False


def test_an_espeak_timeout_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tts, "ESPEAK_TIMEOUT_S", 1e-6)

    with pytest.raises(tts.TTSError) as caught:
        tts.synthesize("Hola, ¿qué tal?", language="es")

    assert caught.value.code == "engine_failed"


def test_an_espeak_error_is_a_clear_error(monkeypatch):
    broken = tts.Voice("es", "espeak-ng", "nosuchvoice", "Spanish", is_fallback=True)
    monkeypatch.setitem(tts._VOICES, "es", broken)

    with pytest.raises(tts.TTSError) as caught:
        tts.synthesize("Hola, ¿qué tal?", language="es")

    assert caught.value.code == "engine_failed"
    assert "does not exist" in str(caught.value.__cause__)


def test_a_reply_of_symbols_still_streams_within_the_limits():
    """Symbols read as words grow ("≤" is "es menor o igual que"); nothing is refused."""
    reply = "x ≤ 1 " * 200

    chunks = list(tts.speak_stream([reply], language="es"))

    assert len(chunks) == 5
    assert all(len(chunk.text) <= tts.MAX_CHARS for chunk in chunks)
    assert all(chunk.duration_s > 1 for chunk in chunks)
