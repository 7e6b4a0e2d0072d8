"""Retrieval over course text: published lessons are cut into passages and embedded; a
question within a course gets the closest passages back.

Search runs in-process (NumPy over the course's passage vectors) on SQLite and
PostgreSQL alike: a school's course holds hundreds of passages, not millions, and this
machine's PostgreSQL has no pgvector. Only the passages of each lesson's *current*
published version count, so unpublishing or republishing takes effect at once.
"""

import re
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import F

from courses.embeddings import embed_passages, embed_query, from_bytes, to_bytes
from courses.models import Course, LessonPassage, LessonVersion

# Passages of about a paragraph or two: long enough to carry an explanation, short
# enough that the prompt can hold several of them.
PASSAGE_MAX_CHARS = 700
QUESTION_MAX_CHARS = 1000


@dataclass(frozen=True)
class Passage:
    lesson_id: int
    lesson_title: str
    language: str
    text: str
    score: float


def split_passages(body: str, *, max_chars: int = PASSAGE_MAX_CHARS) -> list[str]:
    """Cut Markdown into passages at blank lines (never inside a paragraph or a $$ block),
    joining short neighbours up to `max_chars`. A heading starts a new passage."""
    blocks: list[str] = []
    current: list[str] = []
    in_math = False
    for line in body.splitlines():
        if line.strip().startswith("$$"):
            in_math = not in_math if line.strip().count("$$") == 1 else in_math
        if not line.strip() and not in_math:
            if current:
                blocks.append("\n".join(current).strip())
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current).strip())

    passages: list[str] = []
    for block in blocks:
        starts_section = re.match(r"#{1,6}\s", block) is not None
        if passages and not starts_section and len(passages[-1]) + len(block) + 2 <= max_chars:
            passages[-1] = f"{passages[-1]}\n\n{block}"
        else:
            passages.append(block)
    return passages


@transaction.atomic
def lesson_version_index(*, version: LessonVersion) -> int:
    """(Re)build the passages of `version` in every language it has; returns how many.

    Idempotent: a second run replaces the first run's rows.
    """
    version = LessonVersion.objects.select_related("lesson__unit").get(pk=version.pk)
    course_id = version.lesson.unit.course_id
    titles = version.snapshot.get("title", {})
    rows: list[LessonPassage] = []
    for language, body in sorted(version.snapshot.get("body", {}).items()):
        title = titles.get(language) or next(iter(titles.values()), "")
        for position, text in enumerate(split_passages(body)):
            rows.append(
                LessonPassage(
                    lesson_version=version,
                    course_id=course_id,
                    language=language,
                    position=position,
                    # The title travels with each passage: it is what the text is about.
                    text=f"{title}\n\n{text}" if title else text,
                )
            )
    vectors = embed_passages([row.text for row in rows])
    for row, vector in zip(rows, vectors, strict=True):
        row.embedding = to_bytes(vector)
    LessonPassage.objects.filter(lesson_version=version).delete()
    LessonPassage.objects.bulk_create(rows)
    return len(rows)


def course_passages_search(
    *, course: Course, question: str, language: str, limit: int = 4
) -> list[Passage]:
    """The `limit` passages of `course`'s published lessons closest to `question`, best
    first. Each lesson is searched in `language` when it has that translation, else in the
    course's source language. The caller checked the user may read `course`."""
    question = (question or "").strip()[:QUESTION_MAX_CHARS]
    if not question or limit < 1:
        return []
    rows = list(
        LessonPassage.objects.filter(
            course=course,
            lesson_version__lesson__is_published=True,
            lesson_version__lesson__published_version=F("lesson_version"),
        ).values_list(
            "lesson_version__lesson_id",
            "lesson_version_id",
            "language",
            "text",
            "embedding",
        )
    )
    if not rows:
        return []
    languages_by_lesson: dict[int, set[str]] = {}
    for lesson_id, _version_id, row_language, _text, _embedding in rows:
        languages_by_lesson.setdefault(lesson_id, set()).add(row_language)

    def wanted(lesson_id: int) -> str:
        available = languages_by_lesson[lesson_id]
        for candidate in (language, language.split("-")[0], course.source_language):
            if candidate in available:
                return candidate
        return min(available)

    picked = [row for row in rows if row[2] == wanted(row[0])]
    matrix = np.stack([from_bytes(row[4]) for row in picked])
    scores = matrix @ embed_query(question)
    order = np.argsort(-scores)[:limit]
    # Titles only for the winners: a snapshot per passage row would load every lesson's
    # full text on each question.
    titles = dict(
        LessonVersion.objects.filter(pk__in={picked[i][1] for i in order}).values_list(
            "pk", "snapshot__title"
        )
    )
    return [
        Passage(
            lesson_id=picked[i][0],
            lesson_title=(titles.get(picked[i][1]) or {}).get(picked[i][2], ""),
            language=picked[i][2],
            text=picked[i][3],
            score=float(scores[i]),
        )
        for i in order
    ]
