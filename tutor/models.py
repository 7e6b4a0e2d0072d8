"""Tutor conversations: one session per (learner, lesson page), turns numbered in order.

Persist first, notify second: the student's message is saved before anything is sent to
the model, the tutor's reply is saved as `streaming` when generation starts and
finished (`complete`, `incomplete` or `guarded`) when it ends, so a reconnecting browser
asks for the turns after the last sequence number it has and loses nothing.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from courses.models import Course, Lesson
from learning.models import Presentation


class TutorSession(models.Model):
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tutor_sessions"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when screening (tutor.safety) or a teacher flags the conversation; cleared
    # when a teacher has reviewed it. `flags`: the reasons, in the order they came.
    flagged_at = models.DateTimeField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    # When the teachers were last e-mailed about a flag (tutor.notifications).
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "lesson"], name="tutor_session_unique")
        ]
        indexes = [models.Index(fields=["flagged_at"], name="tutor_session_flagged")]

    def __str__(self) -> str:
        return f"tutor session {self.id} of {self.learner_id} on lesson {self.lesson_id}"


class Turn(models.Model):
    class Role(models.TextChoices):
        STUDENT = "student", _("Student")
        TUTOR = "tutor", _("Tutor")

    class Status(models.TextChoices):
        COMPLETE = "complete", _("Complete")
        STREAMING = "streaming", _("Being written")
        INCOMPLETE = "incomplete", _("Cut off")
        # The model's reply gave the answer away; what the student saw replaced it.
        GUARDED = "guarded", _("Replaced by the answer guard")

    session = models.ForeignKey(TutorSession, on_delete=models.CASCADE, related_name="turns")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    # What the student sees (for a guarded reply: the replacement).
    text = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    # The exercise on screen when the turn was written (None while reading).
    presentation = models.ForeignKey(
        Presentation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mode = models.CharField(max_length=10, default="reading")  # reading | exercise
    # Guard and tool notes for teachers and evaluation: what leaked, the checker verdict.
    notes = models.JSONField(default=dict, blank=True)
    # Safety screening categories (tutor.safety) this turn fell under.
    flags = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="tutor_turn_seq_unique")
        ]

    def __str__(self) -> str:
        return f"turn {self.seq} of session {self.session_id} ({self.role})"


class TranscriptNote(models.Model):
    """A teacher's comment on a conversation (or on one turn of it), or a record of a
    flag set or cleared by a teacher."""

    class Kind(models.TextChoices):
        COMMENT = "comment", _("Comment")
        FLAGGED = "flagged", _("Flagged")
        CLEARED = "cleared", _("Flag cleared")

    session = models.ForeignKey(TutorSession, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    turn_seq = models.PositiveIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COMMENT)
    text = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} note on session {self.session_id}"


class LearnerMemory(models.Model):
    """What the tutor remembers about a learner on a course, distilled nightly from their
    conversations (tutor.memory): misconceptions seen, what helped, interests. Short lists
    of short notes, each screened for personal data before it is stored; shown to the
    class's teachers, who may delete it.

    `source_until` is the id of the newest turn already read: a rerun reads only turns
    after it, so distilling twice costs nothing and counts nothing twice. Deleting keeps
    the row (empty, `deleted_at` set) so the deleted notes are not distilled again from
    the same turns.
    """

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tutor_memories"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    misconceptions = models.JSONField(default=list, blank=True)
    helped = models.JSONField(default=list, blank=True)
    interests = models.JSONField(default=list, blank=True)
    source_until = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "course"], name="tutor_memory_unique")
        ]

    def __str__(self) -> str:
        return f"tutor memory of {self.learner_id} on course {self.course_id}"

    @property
    def is_empty(self) -> bool:
        return not (self.misconceptions or self.helped or self.interests)


def _photo_path(photo: "TutorPhoto", _filename: str) -> str:
    # Never the uploaded name: a random one, and the extension of the checked type.
    extension = {"image/png": "png", "image/webp": "webp"}.get(photo.content_type, "jpg")
    return f"tutor-photos/{photo.session_id}/{uuid.uuid4().hex}.{extension}"


class TutorPhoto(models.Model):
    """A photo of the student's work, checked and stripped of metadata (tutor.photos),
    attached to the student turn it was sent with (`turn`, None until then)."""

    session = models.ForeignKey(TutorSession, on_delete=models.CASCADE, related_name="photos")
    turn = models.OneToOneField(
        Turn, null=True, blank=True, on_delete=models.SET_NULL, related_name="photo"
    )
    file = models.FileField(upload_to=_photo_path)
    content_type = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"photo {self.id} in session {self.session_id}"
