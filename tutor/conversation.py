"""The synchronous side of a tutor chat: lookups, persistence, prompt planning. The
consumer (tutor.consumers) calls each through database_sync_to_async and keeps only the
streaming to itself."""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from common.errors import ApplicationError
from courses.i18n import localize
from courses.models import Lesson
from courses.rendering import render_markdown
from courses.selectors import asset_base
from learning import selectors as learning_selectors
from learning import services as learning_services
from learning.models import Presentation
from tutor import photos, safety, services
from tutor.language import ReplyLanguageCheck
from tutor.language import detect as detect_language
from tutor.memory import memory_for_prompt
from tutor.models import Turn, TutorPhoto, TutorSession
from tutor.prompt import TutorContext, build_context
from tutor.tools import check_proposals, elimination_exhausted

logger = logging.getLogger(__name__)


@dataclass
class Chat:
    learner: User
    lesson: Lesson
    session: TutorSession
    language: str


@dataclass
class ReplyPlan:
    context: TutorContext
    stricter_messages: list[dict[str, Any]]
    presentation: Presentation | None
    tenant: str
    session_key: str
    language: str
    leaks: list[str] = field(default_factory=list)

    @property
    def snapshot(self) -> dict[str, Any] | None:
        return self.context.snapshot


def chat_open(*, learner: User, lesson_id: int) -> Chat:
    """The learner's chat on a lesson they may study; Http404 otherwise."""
    lesson = learning_selectors.lesson_get_for_student(user=learner, lesson_id=lesson_id)
    session = services.session_for_lesson(learner=learner, lesson=lesson)
    services.turns_stale_close(session=session)
    return Chat(learner, lesson, session, learner.preferred_language)


def photo_of(turn: Turn) -> TutorPhoto | None:
    try:
        return turn.photo
    except TutorPhoto.DoesNotExist:
        return None


def turn_dict(turn: Turn, course_id: int) -> dict[str, Any]:
    frame = {
        "seq": turn.seq,
        "role": turn.role,
        "text": turn.text,
        "html": render_markdown(turn.text, asset_base=asset_base(course_id)),
        "status": turn.status,
        "mode": turn.mode,
    }
    photo = photo_of(turn)
    if photo is not None:
        frame["photo_url"] = reverse("tutor:photo", args=[photo.id])
    if safety.PERSONAL_DATA in turn.flags:
        frame["notice"] = _(
            "We hid personal details (like a phone number, e-mail or address) from this "
            "message. Never share them in the chat."
        )
    return frame


def turns_for_client(*, chat: Chat, after: int) -> list[dict[str, Any]]:
    course_id = chat.lesson.unit.course_id
    return [turn_dict(t, course_id) for t in services.turns_after(session=chat.session, seq=after)]


def _open_presentation(chat: Chat) -> Presentation | None:
    return (
        Presentation.objects.select_related("exercise_version", "course")
        .filter(learner=chat.learner, lesson=chat.lesson, closed_at__isnull=True)
        .order_by("-shown_at", "-id")
        .first()
    )


def student_say(
    *, chat: Chat, text: str, photo_id: int | None = None
) -> tuple[dict[str, Any], safety.Screening]:
    """Screen and save the student's message (with the photo uploaded for it, if any):
    personal data masked before it is stored or shown to the model, the conversation
    flagged for the teacher when screening found anything (tutor.safety).
    ApplicationError (nothing saved) when the photo is not this chat's or already used."""
    screening = safety.screen(text)
    with transaction.atomic():
        turn = services.turn_student_add(
            session=chat.session,
            text=screening.masked,
            presentation=_open_presentation(chat),
            flags=screening.categories,
        )
        if photo_id is not None:
            photos.photo_attach(session=chat.session, photo_id=photo_id, turn=turn)
    return turn_dict(turn, chat.lesson.unit.course_id), screening


def safety_reply(*, chat: Chat) -> dict[str, Any]:
    """The tutor's answer to a student who spoke of hurting themselves: not the model's,
    a fixed message pointing to people who can help (the teacher has been alerted)."""
    with translation.override(chat.language):
        text = _(
            "I'm really sorry you're feeling this way. You don't have to deal with it "
            "alone: please talk to a teacher, a parent or another adult you trust, today. "
            "If you are in danger right now, call your local emergency number. "
            "Your teacher has been told so they can help."
        )
    turn = services.turn_tutor_add(
        session=chat.session,
        text=text,
        presentation=_open_presentation(chat),
        notes={"safety": safety.SELF_HARM},
    )
    return turn_dict(turn, chat.lesson.unit.course_id)


def _passages(chat: Chat, question: str, language: str) -> list[Any]:
    from courses.retrieval import course_passages_search

    try:
        return course_passages_search(
            course=chat.lesson.unit.course, question=question, language=language, limit=2
        )
    except Exception:  # retrieval is a help, never a reason to fail the reply
        logger.exception("retrieval failed for lesson %s", chat.lesson.id)
        return []


def _latest_photo(tail: list[Turn]) -> dict[int, str]:
    """{seq: data URL} of the newest photo in the conversation the model sees (one image
    per request keeps the prompt bounded)."""
    for turn in reversed(tail):
        photo = photo_of(turn)
        if photo is not None:
            return {turn.seq: photos.photo_for_model(photo)}
    return {}


def reply_plan(*, chat: Chat) -> ReplyPlan:
    """Plan the reply to the conversation's last student message."""
    tail = services.conversation_tail(session=chat.session, limit=20)
    question = next((t.text for t in reversed(tail) if t.role == Turn.Role.STUDENT), "")
    # Answer in the language the student wrote in, when that is clear; else their profile's.
    language = detect_language(question, min_evidence=1) or chat.language
    presentation = _open_presentation(chat)
    passages = _passages(chat, question, language)
    # Nothing in the course comes close to the question: the tutor is told to say it is
    # outside the course rather than answer from memory (threshold: docs/tutor.md).
    off_topic = bool(passages) and passages[0].score < settings.TUTOR_OFF_TOPIC_SCORE
    if off_topic:
        passages = []
    verdicts = []
    verdicts_withheld = False
    if presentation is not None and question:
        snapshot = presentation.exercise_version.snapshot
        earlier = [
            verdict
            for turn in tail
            if turn.presentation_id == presentation.id
            for verdict in turn.notes.get("verdicts", [])
        ]
        verdicts_withheld = elimination_exhausted(snapshot=snapshot, earlier=earlier)
        if not verdicts_withheld:
            verdicts = check_proposals(snapshot=snapshot, text=question)
    common = {
        "learner": chat.learner,
        "lesson": chat.lesson,
        "presentation": presentation,
        "conversation": [t for t in tail if t.status != Turn.Status.INCOMPLETE or t.text],
        "language": language,
        "verdicts": verdicts,
        "verdicts_withheld": verdicts_withheld,
        "passages": passages,
        "off_topic": off_topic,
        "memory": memory_for_prompt(learner=chat.learner, course=chat.lesson.unit.course),
        "images": _latest_photo(tail),
    }
    context = build_context(**common)
    stricter = build_context(**common, stricter=True)
    return ReplyPlan(
        context=context,
        stricter_messages=stricter.messages,
        presentation=presentation,
        tenant=f"school-{chat.learner.school_id}",
        session_key=f"tutor-{chat.session.id}",
        language=language,
    )


def reply_start(*, chat: Chat, plan: ReplyPlan) -> Turn:
    return services.turn_tutor_start(
        session=chat.session, presentation=plan.presentation, notes=plan.context.notes
    )


def reply_finish(
    *, turn: Turn, text: str, status: str, notes: dict | None = None, error: str = ""
) -> dict[str, Any]:
    turn = services.turn_tutor_finish(turn=turn, text=text, status=status, notes=notes, error=error)
    return turn_dict(turn, turn.session.course_id)


def retry_prepare(*, chat: Chat) -> bool:
    """Whether the last exchange ended without a finished reply (cut off, or never
    started), so a new reply may be generated for the last student message."""
    last = chat.session.turns.order_by("-seq").first()
    if last is None:
        return False
    return last.role == Turn.Role.STUDENT or last.status == Turn.Status.INCOMPLETE


class _Checks:
    """Several guards as one (same interface: `.check(text)`): the first finding wins."""

    def __init__(self, *guards: Any) -> None:
        self.guards = guards

    def check(self, text: str) -> Any:
        for guard in self.guards:
            finding = guard.check(text)
            if finding is not None:
                return finding
        return None


def gate_for(plan: ReplyPlan):
    """What every reply passes before the student sees it, sentence by sentence
    (tutor.guard.StreamGate): the safety screening of model output (tutor.safety) and
    the reply's language (tutor.language) always, and while an exercise is open the
    answer-leak guard, unless the checker has just found the student's own proposal
    right (saying so is not a leak)."""
    from tutor.guard import LeakGuard, StreamGate

    guards: list[Any] = [safety.OutgoingCheck(), ReplyLanguageCheck(plan.language)]
    verdicts = plan.context.notes.get("verdicts", [])
    if plan.snapshot is not None and not any(v.get("correct") for v in verdicts):
        guards.insert(0, LeakGuard(plan.snapshot))
    return StreamGate(_Checks(*guards))


def reply_withheld(*, chat: Chat, plan: ReplyPlan) -> None:
    """Every generated reply was withheld; one that failed the safety screening (not
    only the answer guard) flags the conversation for the teacher."""
    if any(leak.startswith("safety:") for leak in plan.leaks):
        services.session_flag(session=chat.session, reasons=["tutor_reply"])


def fallback_hint(*, plan: ReplyPlan) -> str:
    """What the student gets when every generated reply leaked: the exercise's next
    authored hint (recorded as revealed, so mastery counts it), else a guiding question."""
    presentation = plan.presentation
    language = plan.language
    if presentation is not None:
        snapshot = presentation.exercise_version.snapshot
        hints = snapshot.get("hints", [])
        try:
            revealed = learning_services.hint_reveal(presentation=presentation)
        except ApplicationError:
            revealed = 0
        if revealed:
            return localize(
                hints[revealed - 1], language=language, source_language=snapshot["source_language"]
            )
    with translation.override(language):
        return _(
            "Let's work it out together: what is the first step you would try? "
            "Tell me and I'll check it with you."
        )


@dataclass(frozen=True)
class Heard:
    done: bool
    text: str = ""
    error: str = ""


def voice_transcript(*, chat: Chat, clip_id: int) -> Heard:
    """Where the transcription of the chat's recording `clip_id` stands."""
    from voice.models import Failure, VoiceClip

    clip = VoiceClip.objects.filter(pk=clip_id, learner=chat.learner, session=chat.session).first()
    if clip is None:
        return Heard(done=True, error=_("That recording is gone. Record it again."))
    if clip.status == VoiceClip.Status.FAILED:
        return Heard(done=True, error=clip.failure_message)
    if clip.status != VoiceClip.Status.TRANSCRIBED:
        return Heard(done=False)
    text = clip.transcript.strip()
    if not text:
        return Heard(done=True, error=str(Failure.SILENCE.label))
    return Heard(done=True, text=text[: settings.TUTOR_MAX_MESSAGE_CHARS])
