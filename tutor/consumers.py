"""The tutor chat socket: one per open lesson page.

/ws/tutor/lessons/<lesson_id>/  (authenticated, origin-checked, the learner's own lesson)

client → server
  {"type": "sync.request", "after": int}          turns with seq > after (resume)
  {"type": "message.send", "text": str, "client_id": str?}
  {"type": "message.retry"}                        regenerate a cut-off last reply
  {"type": "generation.cancel"}
server → client
  {"type": "turn.list", "turns": [turn, ...]}
  {"type": "turn.saved", "turn": turn, "client_id": str?}   the student's message, saved
  {"type": "reply.start", "seq": int}
  {"type": "reply.delta", "seq": int, "text": str}          coalesced, checked text
  {"type": "reply.reset", "seq": int}        withheld by the answer guard: clear, regenerate
  {"type": "reply.done", "turn": turn}                      final text and sanitised HTML
  {"type": "reply.error", "seq": int, "message": str, "retryable": bool}
  {"type": "error", "message": str}
turn = {"seq", "role": "student"|"tutor", "text", "html", "status", "mode"}

Persist first, notify second: the student's message is saved before generation starts;
the reply is saved as `streaming` at its start and finished when it ends, also when the
socket closes (cancelled: `incomplete`) or the worker fails (`incomplete`, retryable).
Tokens go straight from the inference client to this socket, never one channel-layer
message each: deltas are coalesced in TUTOR_COALESCE_MS windows.

During an open exercise every reply passes the answer-leak guard (tutor.guard) before
the student sees any of it: text is released sentence by sentence, each sentence after
it passed the check, and the tail that could complete an answer is held back. A leaking
reply is withheld and regenerated once with a stricter instruction; if that leaks too,
the student gets the exercise's next authored hint (recorded as revealed) or a guiding
question.
"""

import asyncio
import base64
import contextlib
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.consumers import AuthenticatedJsonConsumer
from common.errors import ApplicationError
from common.inference import inference_client
from common.ratelimit import ratelimit_hit
from inference.errors import InferenceError
from tutor import conversation, safety
from tutor.models import Turn

logger = logging.getLogger(__name__)


class TutorConsumer(AuthenticatedJsonConsumer):
    async def authorize(self, user) -> bool:
        lesson_id = int(self.scope["url_route"]["kwargs"]["lesson_id"])
        try:
            self.chat = await database_sync_to_async(conversation.chat_open)(
                learner=user, lesson_id=lesson_id
            )
        except Http404:
            return False
        self.generation: asyncio.Task | None = None
        return True

    async def receive_json(self, content, **kwargs) -> None:
        # Messages and turn notices in the learner's language (the activation follows
        # into database_sync_to_async threads).
        with translation.override(self.chat.language):
            await super().receive_json(content, **kwargs)

    async def disconnect(self, code) -> None:
        # Closing the tab cancels generation; the reply is saved as cut off.
        task = getattr(self, "generation", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- client frames ------------------------------------------------------------------

    async def client_sync_request(self, content: dict) -> None:
        try:
            after = max(0, int(content.get("after", 0)))
        except (TypeError, ValueError):
            after = 0
        turns = await database_sync_to_async(conversation.turns_for_client)(
            chat=self.chat, after=after
        )
        await self.send_json({"type": "turn.list", "turns": turns})

    async def client_message_send(self, content: dict) -> None:
        text = content.get("text", "")
        photo_id = content.get("photo_id")
        if photo_id is not None and (isinstance(photo_id, bool) or not isinstance(photo_id, int)):
            await self._error(_("That photo is gone. Attach it again."))
            return
        if not isinstance(text, str) or (not text.strip() and photo_id is None):
            await self._error(_("Write a message first."))
            return
        if len(text) > settings.TUTOR_MAX_MESSAGE_CHARS:
            await self._error(
                _("Please keep messages under %(max)d characters.")
                % {"max": settings.TUTOR_MAX_MESSAGE_CHARS}
            )
            return
        await self._accept(
            text=text.strip(), photo_id=photo_id, client_id=content.get("client_id"), speak=False
        )

    async def client_voice_send(self, content: dict) -> None:
        """A recorded question (uploaded to tutor:voice_upload): wait for its transcript,
        then answer it like a typed message, and speak the reply."""
        clip_id = content.get("clip_id")
        if isinstance(clip_id, bool) or not isinstance(clip_id, int):
            await self._error(_("That recording is gone. Record it again."))
            return
        if self.generation is not None and not self.generation.done():
            await self._error(_("The tutor is still answering. Wait a moment."))
            return
        await self.send_json({"type": "voice.status", "clip_id": clip_id, "state": "transcribing"})
        deadline = time.monotonic() + settings.VOICE_TRANSCRIPT_WAIT_SECONDS
        while True:
            heard = await database_sync_to_async(conversation.voice_transcript)(
                chat=self.chat, clip_id=clip_id
            )
            if heard.done or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        if not heard.done or heard.error:
            message = heard.error or _(
                "The recording was not transcribed in time. Record it again."
            )
            await self.send_json(
                {"type": "voice.status", "clip_id": clip_id, "state": "failed", "message": message}
            )
            return
        await self.send_json({"type": "voice.status", "clip_id": clip_id, "state": "heard"})
        await self._accept(
            text=heard.text, photo_id=None, client_id=content.get("client_id"), speak=True
        )

    async def _accept(self, *, text: str, photo_id: int | None, client_id, speak: bool) -> None:
        """Rate-limit, screen and save the student's message, then start the reply."""
        if self.generation is not None and not self.generation.done():
            await self._error(_("The tutor is still answering. Wait a moment."))
            return
        try:
            await database_sync_to_async(ratelimit_hit)(
                scope="tutor",
                key=str(self.scope["user"].id),
                limit=settings.TUTOR_RATE_LIMIT_MESSAGES,
                window_seconds=settings.TUTOR_RATE_LIMIT_WINDOW_SECONDS,
            )
        except ApplicationError as exc:
            await self._error(exc.message)
            return
        try:
            turn, screening = await database_sync_to_async(conversation.student_say)(
                chat=self.chat, text=text, photo_id=photo_id
            )
        except ApplicationError as exc:
            await self._error(exc.message)
            return
        await self.send_json({"type": "turn.saved", "turn": turn, "client_id": client_id})
        if safety.SELF_HARM in screening.categories:
            reply = await database_sync_to_async(conversation.safety_reply)(chat=self.chat)
            await self.send_json({"type": "reply.done", "turn": reply})
            if speak:
                await self._speak_all(reply["seq"], reply["text"])
            return
        self.generation = asyncio.create_task(self._reply(speak=speak))

    async def client_message_retry(self, content: dict) -> None:
        if self.generation is not None and not self.generation.done():
            return
        retryable = await database_sync_to_async(conversation.retry_prepare)(chat=self.chat)
        if not retryable:
            await self._error(_("There is nothing to retry."))
            return
        self.generation = asyncio.create_task(self._reply())

    async def client_generation_cancel(self, content: dict) -> None:
        if self.generation is not None and not self.generation.done():
            self.generation.cancel()

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    # --- generation ----------------------------------------------------------------------

    async def _reply(self, speak: bool = False) -> None:
        chat = self.chat
        plan = await database_sync_to_async(conversation.reply_plan)(chat=chat)
        turn = await database_sync_to_async(conversation.reply_start)(chat=chat, plan=plan)
        seq = turn.seq
        await self.send_json({"type": "reply.start", "seq": seq})
        shown: list[str] = []  # what the student has been sent so far
        voice = _Voice(self, seq, plan.language) if speak else None
        try:
            text, status, notes = await self._generate(plan, seq, shown, voice)
        except asyncio.CancelledError:
            if voice is not None:
                voice.cancel()
            await asyncio.shield(
                database_sync_to_async(conversation.reply_finish)(
                    turn=turn, text="".join(shown), status=Turn.Status.INCOMPLETE, error="cancelled"
                )
            )
            raise
        except Exception as exc:  # the reply is cut off; the socket and the chat live on
            if isinstance(exc, InferenceError):
                logger.warning("tutor reply %s cut off: %s", turn.id, exc)
            else:
                logger.exception("tutor reply %s failed", turn.id)
            error = str(exc) or exc.__class__.__name__
            with translation.override(chat.language):
                message = _(
                    "The tutor could not finish this answer (the model is unavailable). "
                    "Your message is saved: try again."
                )
            await database_sync_to_async(conversation.reply_finish)(
                turn=turn, text="".join(shown), status=Turn.Status.INCOMPLETE, error=error
            )
            await self.send_json(
                {"type": "reply.error", "seq": seq, "message": message, "retryable": True}
            )
            return
        final = await database_sync_to_async(conversation.reply_finish)(
            turn=turn, text=text, status=status, notes=notes
        )
        await self.send_json({"type": "reply.done", "turn": final})
        if voice is not None:
            if status == Turn.Status.GUARDED:  # the replacement was never streamed
                voice.restart()
                voice.feed(text)
            await voice.finish()

    async def _speak_all(self, seq: int, text: str) -> None:
        voice = _Voice(self, seq, self.chat.language)
        voice.feed(text)
        await voice.finish()

    async def _generate(
        self, plan, seq: int, shown: list[str], voice: "_Voice | None" = None
    ) -> tuple[str, str, dict]:
        """Stream one reply (and, if the guard withholds it, one stricter retry) into
        `shown`; returns (text shown, status, notes)."""
        for attempt in range(2):
            messages = plan.stricter_messages if attempt else plan.context.messages
            gate = conversation.gate_for(plan)
            shown.clear()
            coalescer = _Coalescer(self, seq, settings.TUTOR_COALESCE_MS / 1000)
            async with inference_client() as client:
                stream = client.stream_chat(
                    messages,
                    request_class="chat",
                    tenant=plan.tenant,
                    session=plan.session_key,
                    max_tokens=settings.TUTOR_MAX_TOKENS,
                    temperature=0.3,
                )
                try:
                    async for delta in stream:
                        # Off the event loop: a check may compare expressions (SymPy).
                        safe = await asyncio.to_thread(gate.feed, delta)
                        if gate.leaked:
                            break
                        if safe:
                            shown.append(safe)
                            await coalescer.add(safe)
                            if voice is not None:  # spoken as it is shown, by sentence
                                voice.feed(safe)
                except InferenceError:
                    await coalescer.flush()
                    raise
                finally:
                    await stream.abort()
            if not gate.leaked:
                tail = await asyncio.to_thread(gate.finish)
                if tail and not gate.leaked:
                    shown.append(tail)
                    await coalescer.add(tail)
                    if voice is not None:
                        voice.feed(tail)
            await coalescer.flush()
            if not gate.leaked:
                notes = {"guard_retries": attempt} if attempt else {}
                return "".join(shown), Turn.Status.COMPLETE, notes
            logger.info("tutor reply withheld by the guard: %s", gate.leaked)
            await self.send_json({"type": "reply.reset", "seq": seq})
            if voice is not None:
                voice.restart()
            plan.leaks.append(str(gate.leaked))
        await database_sync_to_async(conversation.reply_withheld)(chat=self.chat, plan=plan)
        text = await database_sync_to_async(conversation.fallback_hint)(plan=plan)
        return text, Turn.Status.GUARDED, {"leaks": plan.leaks}


class _Voice:
    """Speaks a reply sentence by sentence as it is shown (voice.tts.SentenceSpeaker),
    sending each as a `reply.audio` frame (WAV, base64). A text-to-speech failure never
    fails the reply: the student is told once and keeps the text."""

    def __init__(self, consumer: TutorConsumer, seq: int, language: str) -> None:
        self.consumer = consumer
        self.seq = seq
        self.language = language
        self.failed = False
        self.speaker = self._new_speaker()

    def _new_speaker(self):
        from voice.tts import SentenceSpeaker

        return SentenceSpeaker(language=self.language, on_chunk=self._send)

    async def _send(self, chunk) -> None:
        await self.consumer.send_json(
            {
                "type": "reply.audio",
                "seq": self.seq,
                "index": chunk.index,
                "text": chunk.text,
                "audio": base64.b64encode(chunk.wav).decode(),
            }
        )

    def feed(self, text: str) -> None:
        if not self.failed:
            self.speaker.feed(text)

    def cancel(self) -> None:
        self.speaker.cancel()

    def restart(self) -> None:
        """The shown text was withdrawn (reply.reset): stop and start over."""
        self.speaker.cancel()
        self.speaker = self._new_speaker()

    async def finish(self) -> None:
        from voice.tts import TTSError

        try:
            await asyncio.wait_for(self.speaker.finish(), settings.VOICE_SPEAK_TIMEOUT_SECONDS)
        except Exception as exc:  # speech is extra: the reply is shown and saved anyway
            self.speaker.cancel()
            if isinstance(exc, TTSError):
                logger.warning("reply %s not spoken: %s", self.seq, exc)
                message = exc.message
            else:
                logger.exception("reply %s not spoken", self.seq)
                message = _("The tutor's answer could not be read aloud. It is shown above.")
            await self.consumer.send_json(
                {"type": "voice.status", "state": "unspoken", "message": message}
            )


class _Coalescer:
    """Batches deltas into one frame per window (tens of ms), not one per token."""

    def __init__(self, consumer: TutorConsumer, seq: int, window_s: float) -> None:
        self.consumer = consumer
        self.seq = seq
        self.window_s = window_s
        self.buffer: list[str] = []
        self.last = 0.0

    async def add(self, text: str) -> None:
        self.buffer.append(text)
        now = time.monotonic()
        if now - self.last >= self.window_s:
            await self.flush()
            self.last = now

    async def flush(self) -> None:
        if self.buffer:
            text, self.buffer = "".join(self.buffer), []
            await self.consumer.send_json({"type": "reply.delta", "seq": self.seq, "text": text})
