"""Input parsing for the authoring and lesson pages. Domain rules live in courses.services
and courses.validation; these forms only turn POST data into service arguments."""

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from courses.i18n import field_name
from courses.models import TITLE_MAX_LENGTH, TUTOR_INSTRUCTIONS_MAX_LENGTH, ExerciseKind, Skill
from courses.rendering import MAX_SOURCE_LENGTH

HINT_SEPARATOR = "---"
MARKDOWN_HELP = _("Markdown. Math between $…$ (inline) or $$…$$ (display), in LaTeX.")


def _markdown_area(rows: int = 6, **attrs: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "class": "markdown", **attrs})


class CourseForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        label=_("Description"), required=False, widget=_markdown_area(3), max_length=5000
    )


class TutorInstructionsForm(forms.Form):
    tutor_instructions = forms.CharField(
        label=_("Instructions for the tutor"),
        required=False,
        max_length=TUTOR_INSTRUCTIONS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            'How the tutor should teach this course, e.g. "explain at grade-6 level", '
            '"always ask for units". They add to the tutor\'s rules; the tutor still never '
            "gives an exercise's answer away."
        ),
    )


class CourseCreateForm(CourseForm):
    source_language = forms.ChoiceField(
        label=_("Written in"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )


class PackageImportForm(forms.Form):
    package = forms.FileField(
        label=_("Course package (.zip)"),
        help_text=_("Exported from Exocortex; see docs/course-package.md."),
    )


class TitleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)


class LessonForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(
        label=_("Lesson text"),
        required=False,
        max_length=MAX_SOURCE_LENGTH,
        help_text=MARKDOWN_HELP,
        widget=_markdown_area(16),
    )


class SkillForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=50,
        help_text=_("A short identifier, e.g. add-fractions."),
    )
    name = forms.CharField(label=_("Name"), max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    prerequisites = forms.ModelMultipleChoiceField(
        label=_("Prerequisites"),
        queryset=Skill.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, course, skill=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = course.skills.order_by("code")
        if skill is not None:
            queryset = queryset.exclude(pk=skill.pk)
            self.fields["code"].disabled = True
            self.fields["code"].required = False
        self.fields["prerequisites"].queryset = queryset
        self.fields["prerequisites"].label_from_instance = lambda s: f"{s.code} — {s.name}"


class ExerciseForm(forms.Form):
    """One form for every kind; fields that do not apply to the kind are hidden by the
    template and ignored here."""

    prompt = forms.CharField(
        label=_("Question"), help_text=MARKDOWN_HELP, widget=_markdown_area(5), max_length=20000
    )
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line. Start the correct ones with *."),
    )
    value = forms.CharField(label=_("Correct number"), required=False, max_length=40)
    tolerance = forms.CharField(label=_("Tolerance"), required=False, max_length=40)
    relative = forms.BooleanField(label=_("Tolerance is relative (0.05 = 5%)"), required=False)
    unit = forms.CharField(label=_("Unit"), required=False, max_length=20)
    expected = forms.CharField(
        label=_("Correct expression"),
        required=False,
        max_length=200,
        help_text=_("Any equivalent form is accepted, e.g. 2(x+1) and 2x+2."),
    )
    accepted = forms.CharField(
        label=_("Accepted answers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line. Case, extra spaces and accents are ignored unless ticked."),
    )
    case_sensitive = forms.BooleanField(label=_("Case matters"), required=False)
    accent_sensitive = forms.BooleanField(label=_("Accents matter"), required=False)
    rubric = forms.CharField(
        label=_("Rubric"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What a full-credit answer contains."),
    )
    hints = forms.CharField(
        label=_("Hints"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("In order, from gentle to specific. Separate hints with a line ---."),
    )
    solution = forms.CharField(
        label=_("Worked solution"), required=False, widget=_markdown_area(5), max_length=20000
    )
    skills = forms.ModelMultipleChoiceField(
        label=_("Skills"), queryset=Skill.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    KIND_FIELDS = {
        ExerciseKind.SINGLE_CHOICE: {"choices"},
        ExerciseKind.MULTIPLE_CHOICE: {"choices"},
        ExerciseKind.NUMERIC: {"value", "tolerance", "relative", "unit"},
        ExerciseKind.EXPRESSION: {"expected"},
        ExerciseKind.SHORT_TEXT: {"accepted", "case_sensitive", "accent_sensitive"},
        ExerciseKind.FREE_RESPONSE: {"rubric"},
    }
    ALL_KIND_FIELDS = set().union(*KIND_FIELDS.values())

    def __init__(self, *args: Any, course, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["skills"].queryset = course.skills.order_by("code")
        self.fields["skills"].label_from_instance = lambda s: f"{s.code} — {s.name}"
        for name in self.ALL_KIND_FIELDS - self.KIND_FIELDS[kind]:
            del self.fields[name]

    @staticmethod
    def initial_for(exercise, language: str) -> dict[str, Any]:
        def text(obj: Any, field: str) -> str:
            return getattr(obj, field_name(field, language)) or ""

        answer = exercise.answer
        return {
            "prompt": text(exercise, "prompt"),
            "solution": text(exercise, "solution"),
            "rubric": text(exercise, "rubric"),
            "choices": "\n".join(
                ("* " if c.is_correct else "") + text(c, "text") for c in exercise.choices.all()
            ),
            "hints": f"\n{HINT_SEPARATOR}\n".join(text(h, "text") for h in exercise.hints.all()),
            "skills": list(exercise.skills.all()),
            "value": answer.get("value", ""),
            "tolerance": answer.get("tolerance", ""),
            "relative": answer.get("relative", False),
            "unit": answer.get("unit", ""),
            "expected": answer.get("expected", ""),
            "accepted": "\n".join(answer.get("accepted", [])),
            "case_sensitive": answer.get("case_sensitive", False),
            "accent_sensitive": answer.get("accent_sensitive", False),
        }

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        choices = []
        for line in data.get("choices", "").splitlines():
            line = line.strip()
            if line:
                correct = line.startswith("*")
                choices.append((line.lstrip("*").strip(), correct))
        hints = []
        current: list[str] = []
        for line in data.get("hints", "").replace("\r\n", "\n").split("\n"):
            if line.strip() == HINT_SEPARATOR:
                hints.append("\n".join(current))
                current = []
            else:
                current.append(line)
        hints.append("\n".join(current))
        answer = {
            key: data[key]
            for key in (
                "value",
                "tolerance",
                "relative",
                "unit",
                "expected",
                "case_sensitive",
                "accent_sensitive",
            )
            if key in data
        }
        if "accepted" in data:
            answer["accepted"] = [a for a in data["accepted"].splitlines() if a.strip()]
        return {
            "prompt": data["prompt"],
            "solution": data.get("solution", ""),
            "rubric": data.get("rubric", ""),
            "answer": answer,
            "choices": choices,
            "hints": [h for h in hints if h.strip()],
            "skills": list(data["skills"]),
        }
