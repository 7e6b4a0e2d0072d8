"""The learner model: what each student did and what we believe they know.

* `CourseAssignment` — a teacher puts a published course in front of a class.
* `Presentation` — one exercise shown to one learner (chosen by learning.selection);
  hints revealed and the worked solution opened are recorded on it.
* `Attempt` — every answer, kept forever (fitting, analytics and export read it).
* `SkillMastery` — the BKT estimate P(known) per (learner, skill).
* `SkillParams` — per-skill BKT parameters, fitted from attempts by a periodic task.
* `ReviewCard` — an FSRS card per mastered (learner, skill): when to review it next.

Only the first attempt of a presentation updates mastery (later tries come after
feedback and say little about what the learner knew); a hint taken before that first
attempt makes it count as incorrect, as in the usual BKT practice.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Classroom
from courses.models import Course, Exercise, ExerciseVersion, Lesson, Skill


class CourseAssignment(models.Model):
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="assignments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="assignments")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["classroom", "course"], name="learning_assignment_unique"
            )
        ]

    def __str__(self) -> str:
        return f"course {self.course_id} in class {self.classroom_id}"


class Presentation(models.Model):
    """An exercise put in front of a learner. Open until answered correctly (or graded);
    the learner's current exercise in a course is their latest open presentation."""

    class Reason(models.TextChoices):
        PRACTICE = "practice", _("Practice")
        REVIEW = "review", _("Review")

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presentations"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="+")
    exercise_version = models.ForeignKey(
        ExerciseVersion, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.PRACTICE)
    predicted_success = models.FloatField(null=True, blank=True)
    hints_revealed = models.PositiveSmallIntegerField(default=0)
    solution_opened_at = models.DateTimeField(null=True, blank=True)
    shown_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["shown_at", "id"]
        indexes = [models.Index(fields=["learner", "course", "closed_at"])]

    def __str__(self) -> str:
        return f"exercise {self.exercise_id} for {self.learner_id}"


class Attempt(models.Model):
    class Status(models.TextChoices):
        CORRECT = "correct", _("Correct")
        INCORRECT = "incorrect", _("Incorrect")
        GRADING = "grading", _("Grading")
        GRADING_FAILED = "grading_failed", _("Could not be graded")

    # Both None once the learner was erased (privacy.services.user_erase): the attempt is
    # kept for course statistics under `learner_pseudonym`, random and shared by that
    # learner's attempts only, so per-learner answer sequences still fit BKT.
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="attempts"
    )
    presentation = models.ForeignKey(
        Presentation, null=True, on_delete=models.CASCADE, related_name="attempts"
    )
    learner_pseudonym = models.CharField(max_length=32, blank=True)
    # Denormalised from the presentation for analytics and export queries.
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="attempts")
    exercise_version = models.ForeignKey(
        ExerciseVersion, on_delete=models.CASCADE, related_name="+"
    )
    answer = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices)
    # 0..1; 1 or 0 for objective kinds, the rubric score for free responses.
    score = models.FloatField(null=True, blank=True)
    feedback = models.TextField(blank=True)
    hints_used = models.PositiveSmallIntegerField(default=0)
    time_taken_ms = models.PositiveIntegerField(default=0)
    is_first = models.BooleanField(default=False)  # first attempt of its presentation
    # Set once the attempt's outcome has moved mastery: makes grading idempotent.
    mastery_applied_at = models.DateTimeField(null=True, blank=True)
    # {skill code: [P(known) before, after]} once applied; what the mastery bars show.
    mastery_change = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    graded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["learner", "created_at"]),
            models.Index(fields=["exercise", "is_first"]),
        ]

    def __str__(self) -> str:
        return f"attempt {self.id} ({self.status})"

    @property
    def is_correct(self) -> bool | None:
        if self.status == self.Status.CORRECT:
            return True
        if self.status == self.Status.INCORRECT:
            return False
        return None


class SkillMastery(models.Model):
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="masteries"
    )
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="masteries")
    p_known = models.FloatField()
    opportunities = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    mastered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "skill"], name="learning_mastery_unique"),
            models.CheckConstraint(
                condition=Q(p_known__gte=0) & Q(p_known__lte=1), name="learning_mastery_p_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.learner_id}/{self.skill_id}: {self.p_known:.2f}"


class SkillParams(models.Model):
    """BKT parameters fitted for one skill (absent: learning.bkt.DEFAULT_PARAMS)."""

    skill = models.OneToOneField(Skill, on_delete=models.CASCADE, related_name="bkt_params")
    prior = models.FloatField()
    learn = models.FloatField()
    guess = models.FloatField()
    slip = models.FloatField()
    sequences = models.PositiveIntegerField(default=0)
    observations = models.PositiveIntegerField(default=0)
    log_likelihood = models.FloatField(null=True, blank=True)
    fitted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"BKT params of skill {self.skill_id}"


class ReviewCard(models.Model):
    """FSRS state for a mastered skill; `card` is fsrs.Card.to_dict()."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_cards"
    )
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="review_cards")
    card = models.JSONField()
    due = models.DateTimeField(db_index=True)
    reviews = models.PositiveIntegerField(default=0)
    lapses = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "skill"], name="learning_reviewcard_unique")
        ]

    def __str__(self) -> str:
        return f"review of skill {self.skill_id} for {self.learner_id} due {self.due:%Y-%m-%d}"
