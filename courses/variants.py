"""AI-drafted exercise variants: the model drafts, code checks, the teacher decides.

A teacher asks for N variants of a numeric or expression exercise. A Celery task asks the
inference worker (class `authoring`, JSON-schema structured output) for drafts. Each
draft must state the computation behind its answer in plain math syntax; a draft is kept
only when

* the computation uses only numbers that appear in its prompt (and unit-conversion
  factors such as 100 or 60), and SymPy recomputes the
  stated answer from it (numeric: equal within the exercise's tolerance; expression:
  equivalent as functions);
* every equation written in the prompt (`$x + 7 = 12$`) is satisfied by the answer;
* it is not a near-duplicate of the original or of a draft kept before it: the same
  computation with the same answer, the same normalised text, or an embedding cosine of
  at least NEAR_DUPLICATE_COSINE.

Dropped drafts are counted per reason on the VariantBatch; the teacher approves or
rejects each survivor, and an approved one becomes a new draft exercise in the lesson.
"""

import asyncio
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from common.errors import ApplicationError
from common.inference import inference_client
from courses import services
from courses.checkers import parse_number
from courses.embeddings import embed_passages
from courses.i18n import localize, texts_of
from courses.mathexpr import ExpressionError, expressions_equivalent, parse_expression
from courses.models import Exercise, ExerciseKind, ExerciseVariant, VariantBatch
from inference.errors import InferenceBusy, InferenceError, InferenceUnavailable

# Worth trying again later (worker starting, restarting or saturated).
TRANSIENT_ERRORS = (InferenceUnavailable, InferenceBusy)

logger = logging.getLogger(__name__)

VARIANT_KINDS = (ExerciseKind.NUMERIC, ExerciseKind.EXPRESSION)
# Same-numbers rephrasings score ~0.97 and new-numbers variants 0.94-0.97 with the
# packaged e5 model, so embeddings only catch near-verbatim copies; rephrasings are
# caught by comparing the computation itself.
NEAR_DUPLICATE_COSINE = 0.985
MAX_TOKENS_PER_VARIANT = 220

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Unit-conversion factors a computation may use without the prompt stating them.
CONVERSION_FACTORS = {Fraction(n) for n in (10, 100, 1000, 60, 3600, 24)}
_INLINE_MATH = re.compile(r"\$([^$]+)\$")
_LATEX = [
    (re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}"), r"((\1)/(\2))"),
    (re.compile(r"\\(cdot|times)"), "*"),
    (re.compile(r"\\div"), "/"),
    (re.compile(r"\\left|\\right|\\,|\\!|\\;"), ""),
    (re.compile(r"[{}]"), ""),
]


def variant_schema(count: int) -> dict[str, Any]:
    """JSON schema the model's output must follow (enforced by structured decoding)."""
    item = {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "maxLength": 600},
            "computation": {"type": "string", "maxLength": 120},
            "answer": {"type": "string", "maxLength": 60},
            "hints": {
                "type": "array",
                "items": {"type": "string", "maxLength": 300},
                "maxItems": 3,
            },
            "solution": {"type": "string", "maxLength": 600},
        },
        "required": ["prompt", "computation", "answer", "hints", "solution"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "variants": {"type": "array", "items": item, "minItems": 1, "maxItems": count}
        },
        "required": ["variants"],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class Source:
    """The exercise a batch varies, in its source language."""

    kind: str
    language: str
    prompt: str
    solution: str
    hints: list[str]
    answer: dict[str, Any]

    @classmethod
    def of(cls, exercise: Exercise) -> "Source":
        language = exercise.lesson.unit.course.source_language

        def text(obj, field):
            return localize(texts_of(obj, field), language=language, source_language=language)

        return cls(
            kind=exercise.kind,
            language=language,
            prompt=text(exercise, "prompt"),
            solution=text(exercise, "solution"),
            hints=[text(hint, "text") for hint in exercise.hints.order_by("position")],
            answer=exercise.answer,
        )

    @property
    def answer_text(self) -> str:
        if self.kind == ExerciseKind.NUMERIC:
            return f"{self.answer['value']} {self.answer.get('unit', '')}".strip()
        return self.answer["expected"]


def variant_messages(source: Source, count: int) -> list[dict[str, str]]:
    """Chat messages asking for `count` variants. The stable instructions come first so
    requests for many exercises share a cached prefix in the worker."""
    kind_rule = (
        "The answer is a number (add the unit after it if the original has one)."
        if source.kind == ExerciseKind.NUMERIC
        else "The answer is a math expression in plain syntax, like 2*x + 2."
    )
    system = (
        "You write practice exercises for a school course. Given an exercise, write new "
        "exercises that practise the same skill with different numbers or contexts. "
        "For each one give: prompt (Markdown, math in $...$), computation (the plain "
        "math expression whose value is the answer, using only numbers from your prompt, "
        "like (12 - 7) or 1/2 + 1/4), answer, up to 3 hints that lead without giving the "
        "answer away, and a worked solution. " + kind_rule + " Reply with JSON only."
    )
    example = {
        "prompt": source.prompt,
        "answer": source.answer_text,
        "hints": source.hints,
        "solution": source.solution,
    }
    user = (
        f"Language: {source.language}\nOriginal exercise:\n"
        f"{json.dumps(example, ensure_ascii=False)}\n\nWrite {count} new exercises."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def latex_to_plain(latex: str) -> str:
    """Turn the simple LaTeX of school exercises into parser syntax (\\frac{a}{b} → (a)/(b))."""
    text = latex
    for pattern, replacement in _LATEX:
        previous = None
        while previous != text:  # nested \frac
            previous, text = text, pattern.sub(replacement, text)
    return text


def _equations(prompt: str) -> list[tuple[sympy.Expr, sympy.Expr]]:
    equations = []
    for math in _INLINE_MATH.findall(prompt):
        if math.count("=") != 1:
            continue
        left, right = latex_to_plain(math).split("=")
        try:
            equations.append((parse_expression(left), parse_expression(right)))
        except ExpressionError:
            continue
    return equations


def _numbers(text: str) -> set[Fraction]:
    return {Fraction(match) for match in _NUMBER.findall(text)}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[$\\{}]", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Checked:
    """A draft that passed checking, with what duplicate detection compares."""

    data: dict[str, Any]
    math_key: str
    text_key: str


def variant_check(source: Source, draft: Any) -> tuple[Checked | None, str]:
    """Check one draft. Returns (Checked, "") or (None, reason it was dropped)."""
    if not isinstance(draft, dict):
        return None, "not an object"
    fields = {key: draft.get(key) for key in ("prompt", "computation", "answer", "solution")}
    if not all(isinstance(value, str) and value.strip() for value in fields.values()):
        return None, "missing field"
    hints = [h.strip() for h in draft.get("hints") or [] if isinstance(h, str) and h.strip()]
    prompt, computation = fields["prompt"].strip(), fields["computation"].strip()
    answer_text = fields["answer"].strip()
    if not _numbers(computation) <= _numbers(prompt) | CONVERSION_FACTORS:
        return None, "computation uses numbers not in the prompt"
    try:
        computed = parse_expression(computation)
    except ExpressionError:
        return None, "computation does not parse"

    if source.kind == ExerciseKind.NUMERIC:
        if computed.free_symbols:
            return None, "computation is not a number"
        try:
            stated, unit = parse_number(answer_text)
        except ValueError:
            return None, "answer is not a number"
        expected_unit = (source.answer.get("unit") or "").strip()
        if unit.strip().casefold() != expected_unit.casefold():
            return None, "answer has the wrong unit"
        tolerance = Fraction(str(source.answer.get("tolerance") or 0))
        if source.answer.get("relative"):
            tolerance = tolerance * abs(stated)
        value = sympy.Rational(computed) if computed.is_Rational else computed.evalf(30)
        if abs(float(value) - float(stated)) > float(tolerance) + 1e-9:
            return None, "answer does not match its computation"
        answer_expr = sympy.Rational(stated.numerator, stated.denominator)
        answer = {**source.answer, "value": answer_text.removesuffix(unit).strip()}
    else:
        try:
            answer_expr = parse_expression(answer_text)
        except ExpressionError:
            return None, "answer does not parse"
        if not expressions_equivalent(computed, answer_expr):
            return None, "answer does not match its computation"
        answer = {"expected": answer_text}

    for left, right in _equations(prompt):
        symbols = sorted((left - right).free_symbols, key=str)
        if len(symbols) != 1 or answer_expr.free_symbols:
            continue
        residual = (left - right).subs(symbols[0], answer_expr)
        if abs(complex(residual.evalf(30))) > 1e-9:
            return None, "answer does not solve the prompt's equation"

    data = {
        "prompt": prompt,
        "computation": computation,
        "answer": answer,
        "hints": hints,
        "solution": fields["solution"].strip(),
    }
    math_key = f"{sympy.srepr(sympy.nsimplify(computed))}={sympy.srepr(answer_expr)}"
    return Checked(data=data, math_key=math_key, text_key=normalise(prompt)), ""


def _source_checked(source: Source) -> Checked | None:
    """The original exercise in Checked form, so drafts that repeat it are duplicates."""
    computation = latex_to_plain(" ".join(_INLINE_MATH.findall(source.prompt)))
    draft = {
        "prompt": source.prompt,
        "computation": computation or "0",
        "answer": source.answer_text,
        "solution": source.solution or "-",
        "hints": [],
    }
    checked, _reason = variant_check(source, draft)
    return checked or Checked(data=draft, math_key="", text_key=normalise(source.prompt))


def variants_select(source: Source, drafts: list[Any]) -> tuple[list[Checked], int, int]:
    """Check every draft and drop near-duplicates. Returns (kept, dropped by checking,
    dropped as duplicates)."""
    checked: list[Checked] = []
    dropped_check = 0
    for draft in drafts:
        result, reason = variant_check(source, draft)
        if result is None:
            logger.info("variant dropped: %s", reason)
            dropped_check += 1
        else:
            checked.append(result)
    if not checked:
        return [], dropped_check, 0
    original = _source_checked(source)
    vectors = embed_passages([original.data["prompt"]] + [c.data["prompt"] for c in checked])
    kept: list[Checked] = []
    kept_rows = [0]
    seen_math = {original.math_key} - {""}
    seen_text = {original.text_key}
    for index, candidate in enumerate(checked, start=1):
        similar = float(np.max(vectors[kept_rows] @ vectors[index]))
        if (
            candidate.math_key in seen_math
            or candidate.text_key in seen_text
            or similar >= NEAR_DUPLICATE_COSINE
        ):
            continue
        kept.append(candidate)
        kept_rows.append(index)
        seen_math.add(candidate.math_key)
        seen_text.add(candidate.text_key)
    return kept, dropped_check, len(checked) - len(kept)


def variant_batch_create(*, exercise: Exercise, user: User, count: int) -> VariantBatch:
    """A new, not yet started drafting batch. The caller checked `user` may edit `exercise`.

    Raises ApplicationError for an exercise kind without variants or a count out of range.
    """
    if exercise.kind not in VARIANT_KINDS:
        raise ApplicationError(
            _("Variants can be drafted for number and math-expression exercises only."),
            field="count",
        )
    if not 1 <= count <= settings.VARIANTS_MAX_PER_REQUEST:
        raise ApplicationError(
            _("Ask for between 1 and %(max)d variants.")
            % {"max": settings.VARIANTS_MAX_PER_REQUEST},
            field="count",
        )
    return VariantBatch.objects.create(exercise=exercise, requested_by=user, requested=count)


def variant_batch_request(*, exercise: Exercise, user: User, count: int) -> VariantBatch:
    """Create a drafting batch (see `variant_batch_create`) and queue it for a worker."""
    from courses.tasks import draft_exercise_variants

    batch = variant_batch_create(exercise=exercise, user=user, count=count)
    draft_exercise_variants.delay_on_commit(batch.id)
    return batch


async def _draft(source: Source, count: int, tenant: str) -> list[Any]:
    async with inference_client() as client:
        completion = await client.complete(
            variant_messages(source, count),
            request_class="authoring",
            tenant=tenant,
            max_tokens=MAX_TOKENS_PER_VARIANT * count,
            temperature=0.8,
            json_schema=variant_schema(count),
        )
    try:
        payload = json.loads(completion.text)
    except ValueError:
        return [None] * count  # counted as drafts that failed checking
    drafts = payload.get("variants") if isinstance(payload, dict) else None
    return drafts if isinstance(drafts, list) else [None] * count


def variant_batch_run(*, batch_id: int) -> VariantBatch:
    """Draft, check and store the batch's variants. Idempotent: a finished batch is left
    as it is; a batch interrupted mid-run is drafted again from scratch."""
    with transaction.atomic():
        batch = VariantBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status in (VariantBatch.Status.DONE, VariantBatch.Status.FAILED):
            return batch
        batch.variants.all().delete()
        batch.status = VariantBatch.Status.RUNNING
        batch.save(update_fields=["status"])
    exercise = Exercise.objects.select_related("lesson__unit__course").get(pk=batch.exercise_id)
    source = Source.of(exercise)
    try:
        drafts = asyncio.run(
            _draft(source, batch.requested, str(exercise.lesson.unit.course.school_id))
        )
    except InferenceError as exc:
        VariantBatch.objects.filter(pk=batch.pk).update(
            status=VariantBatch.Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        raise
    kept, dropped_check, dropped_duplicate = variants_select(source, drafts[: batch.requested])
    with transaction.atomic():
        ExerciseVariant.objects.bulk_create(
            ExerciseVariant(batch=batch, data=item.data) for item in kept
        )
        VariantBatch.objects.filter(pk=batch.pk).update(
            status=VariantBatch.Status.DONE,
            drafted=len(drafts[: batch.requested]),
            survived=len(kept),
            dropped_check=dropped_check,
            dropped_duplicate=dropped_duplicate,
            finished_at=timezone.now(),
        )
    batch.refresh_from_db()
    return batch


def variant_batch_fail(*, batch_id: int, message: str) -> VariantBatch:
    """Mark the batch failed with a message for the teacher."""
    VariantBatch.objects.filter(pk=batch_id).update(
        status=VariantBatch.Status.FAILED, error=message, finished_at=timezone.now()
    )
    return VariantBatch.objects.get(pk=batch_id)


@transaction.atomic
def variant_decide(*, variant: ExerciseVariant, approve: bool) -> ExerciseVariant:
    """Approve (a new draft exercise in the lesson, same skills) or reject a pending
    variant. The caller checked the user may edit the variant's exercise."""
    variant = ExerciseVariant.objects.select_for_update().get(pk=variant.pk)
    if variant.decision != ExerciseVariant.Decision.PENDING:
        raise ApplicationError(_("This variant was already reviewed."))
    if approve:
        original = Exercise.objects.select_related("lesson__unit__course").get(
            pk=variant.batch.exercise_id
        )
        data = variant.data
        variant.created_exercise = services.exercise_create(
            lesson=original.lesson,
            kind=original.kind,
            prompt=data["prompt"],
            answer=data["answer"],
            skills=list(original.skills.all()),
            hints=data["hints"],
            solution=data["solution"],
        )
    variant.decision = (
        ExerciseVariant.Decision.APPROVED if approve else ExerciseVariant.Decision.REJECTED
    )
    variant.decided_at = timezone.now()
    variant.save(update_fields=["decision", "created_exercise", "decided_at"])
    return variant
