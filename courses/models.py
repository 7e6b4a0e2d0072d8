"""Course content: courses, units, lessons, exercises, skills, and the immutable published
snapshots that learners' records point at.

Learner-facing text fields are translated with django-modeltranslation (see
`courses/translation.py`): each gets one column per language (`title_en`, `title_es`, ...).
Code reads them through `courses.i18n`, which falls back to the course's source language.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import School

TITLE_MAX_LENGTH = 200
SKILL_CODE_MAX_LENGTH = 50
ASSET_NAME_MAX_LENGTH = 100
TUTOR_INSTRUCTIONS_MAX_LENGTH = 2000


class Course(models.Model):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="courses")
    # The language the course is written in; every other language falls back to it.
    source_language = models.CharField(
        _("source language"), max_length=8, choices=settings.LANGUAGES
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    description = models.TextField(_("description"), blank=True)
    is_published = models.BooleanField(default=False)
    # The teacher's pedagogy instructions and guardrails for the tutor on this course
    # ("explain at grade-6 level"); added to the tutor's policy, never replacing it.
    tutor_instructions = models.TextField(
        _("tutor instructions"), blank=True, max_length=TUTOR_INSTRUCTIONS_MAX_LENGTH
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self) -> str:
        return self.title


class CourseAsset(models.Model):
    """An image a course's Markdown refers to as `asset:<name>`."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="assets")
    name = models.CharField(max_length=ASSET_NAME_MAX_LENGTH)
    file = models.FileField(upload_to="course-assets/")
    content_type = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "name"], name="courses_asset_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="units")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class Lesson(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    # Markdown with $inline$ and $$display$$ LaTeX math, rendered by courses.rendering.
    body = models.TextField(_("body"), blank=True)
    is_published = models.BooleanField(default=False)
    # What learners see: the snapshot taken at the last publish. Drafts edit the live rows.
    published_version = models.ForeignKey(
        "LessonVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class LessonVersion(models.Model):
    """Immutable snapshot of a lesson at publish time (texts in every language, and the
    exercise versions it shows, in order). See `courses.snapshots` for the shape."""

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lesson", "number"], name="courses_lessonversion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lesson_id} v{self.number}"


class LessonPassage(models.Model):
    """A chunk of a published lesson version's text in one language, with its embedding,
    for retrieval (see courses.retrieval). Rebuilt from the snapshot, never edited."""

    lesson_version = models.ForeignKey(
        LessonVersion, on_delete=models.CASCADE, related_name="passages"
    )
    # Denormalised so a course's passages load in one indexed query.
    course = models.ForeignKey("Course", on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=8)
    position = models.PositiveIntegerField()
    text = models.TextField()
    embedding = models.BinaryField()  # EMBEDDING_DIM float32 values, see courses.embeddings

    class Meta:
        ordering = ["lesson_version", "language", "position"]
        indexes = [models.Index(fields=["course", "language"])]

    def __str__(self) -> str:
        return f"{self.lesson_version} {self.language}#{self.position}"


class Skill(models.Model):
    """A knowledge component. Prerequisite edges form a DAG within one course."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="skills")
    code = models.SlugField(_("code"), max_length=SKILL_CODE_MAX_LENGTH)
    name = models.CharField(_("name"), max_length=TITLE_MAX_LENGTH)
    description = models.TextField(_("description"), blank=True)
    prerequisites = models.ManyToManyField(
        "self",
        symmetrical=False,
        through="SkillPrerequisite",
        through_fields=("skill", "prerequisite"),
        related_name="dependents",
        blank=True,
    )

    class Meta:
        ordering = ["code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["course", "code"], name="courses_skill_code_unique")
        ]

    def __str__(self) -> str:
        return self.code


class SkillPrerequisite(models.Model):
    """`skill` requires `prerequisite`. Acyclicity is enforced by courses.services."""

    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="prerequisite_links")
    prerequisite = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["skill", "prerequisite"], name="courses_skillprerequisite_unique"
            ),
            models.CheckConstraint(
                condition=~Q(skill=F("prerequisite")), name="courses_skillprerequisite_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill_id} requires {self.prerequisite_id}"


class ExerciseKind(models.TextChoices):
    SINGLE_CHOICE = "single_choice", _("Multiple choice, one answer")
    MULTIPLE_CHOICE = "multiple_choice", _("Multiple choice, several answers")
    NUMERIC = "numeric", _("Number")
    EXPRESSION = "expression", _("Math expression")
    SHORT_TEXT = "short_text", _("Short text")
    FREE_RESPONSE = "free_response", _("Free response (graded with a rubric)")


class Exercise(models.Model):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="exercises")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=ExerciseKind.choices)
    prompt = models.TextField(_("prompt"))
    # The teacher's worked solution, Markdown.
    solution = models.TextField(_("worked solution"), blank=True)
    # Free response only: what a good answer contains, for grading.
    rubric = models.TextField(_("rubric"), blank=True)
    # Language-neutral answer key; its shape per kind is checked by courses.validation.
    answer = models.JSONField(default=dict, blank=True)
    skills = models.ManyToManyField(Skill, related_name="exercises")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"


class Choice(models.Model):
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(_("text"), max_length=500)
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Hint(models.Model):
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="hints")
    position = models.PositiveIntegerField(default=0)
    text = models.TextField(_("text"))

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text[:50]


class ExerciseVersion(models.Model):
    """Immutable snapshot of an exercise as learners saw it; attempts refer to this, so
    later edits to the exercise never change what an old attempt was graded against."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["exercise", "number"], name="courses_exerciseversion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.exercise_id} v{self.number}"


class VariantBatch(models.Model):
    """A teacher's request for model-drafted variants of one exercise, and its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Drafting")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="variant_batches")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    requested = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Counts as drafts come back: drafted = survived + dropped_check + dropped_duplicate.
    drafted = models.PositiveIntegerField(default=0)
    survived = models.PositiveIntegerField(default=0)
    dropped_check = models.PositiveIntegerField(default=0)
    dropped_duplicate = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.requested} variants of exercise {self.exercise_id} ({self.status})"


class ExerciseVariant(models.Model):
    """A drafted variant that passed checking, waiting for the teacher's decision.

    `data` holds the draft in the exercise's source language: prompt, computation,
    answer, hints, solution. Approving turns it into a new draft Exercise.
    """

    class Decision(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    batch = models.ForeignKey(VariantBatch, on_delete=models.CASCADE, related_name="variants")
    data = models.JSONField()
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    created_exercise = models.ForeignKey(
        Exercise, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"variant {self.id} of batch {self.batch_id} ({self.decision})"
