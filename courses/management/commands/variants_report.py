"""Ask the inference worker for variants of every eligible exercise of a course, check
them, and report how many drafts survive (printed, and saved as JSON).

    python manage.py variants_report --course 1 --per-exercise 5 --out bench/results/x.json

Needs a running inference worker at INFERENCE_URL. The batches and surviving variants
are stored like any teacher's request, so they can be reviewed on the variant pages.
"""

import json
import platform
import subprocess
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Role, User
from common.errors import ApplicationError
from courses.i18n import texts_of
from courses.models import Course, Exercise
from courses.variants import VARIANT_KINDS, variant_batch_create, variant_batch_run


class Command(BaseCommand):
    help = "Draft and check variants for a course's exercises; report survival counts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--course", type=int, help="course id (default: the first)")
        parser.add_argument("--per-exercise", type=int, default=5)
        parser.add_argument("--out", type=Path, help="write the report as JSON here")

    def handle(self, *args, course=None, per_exercise=5, out=None, **options) -> None:
        courses = Course.objects.order_by("id")
        course_obj = courses.filter(pk=course).first() if course else courses.first()
        if course_obj is None:
            raise CommandError("No such course. Load one with `manage.py load_demo_course`.")
        requester = course_obj.created_by or (
            User.objects.filter(
                school=course_obj.school, role__in=[Role.TEACHER, Role.SCHOOL_ADMIN]
            )
            .order_by("id")
            .first()
        )
        if requester is None:
            raise CommandError("The course's school has no teacher to request variants.")
        exercises = Exercise.objects.filter(
            lesson__unit__course=course_obj, kind__in=VARIANT_KINDS
        ).order_by("lesson__unit__position", "lesson__position", "position")
        rows = []
        for exercise in exercises:
            try:
                batch = variant_batch_create(exercise=exercise, user=requester, count=per_exercise)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            started = timezone.now()
            batch = variant_batch_run(batch_id=batch.id)
            rows.append(
                {
                    "exercise": exercise.id,
                    "kind": exercise.kind,
                    "prompt": texts_of(exercise, "prompt").get(course_obj.source_language, ""),
                    "status": batch.status,
                    "requested": batch.requested,
                    "drafted": batch.drafted,
                    "survived": batch.survived,
                    "dropped_check": batch.dropped_check,
                    "dropped_duplicate": batch.dropped_duplicate,
                    "error": batch.error,
                    "seconds": round((timezone.now() - started).total_seconds(), 1),
                }
            )
            self.stdout.write(
                f"exercise {exercise.id:>4} {exercise.kind:<10} drafted {batch.drafted:>2} "
                f"survived {batch.survived:>2} wrong {batch.dropped_check:>2} "
                f"duplicate {batch.dropped_duplicate:>2} ({rows[-1]['seconds']} s)"
                + (f" error: {batch.error}" if batch.error else "")
            )
        totals = {
            key: sum(row[key] for row in rows)
            for key in ("requested", "drafted", "survived", "dropped_check", "dropped_duplicate")
        }
        self.stdout.write(
            f"total: {totals['survived']} of {totals['drafted']} drafts survived checking "
            f"({totals['dropped_check']} wrong, {totals['dropped_duplicate']} duplicates)"
        )
        if out:
            commit = subprocess.run(
                ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, fixed arguments
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            report = {
                "course": course_obj.title,
                "date": timezone.now().isoformat(),
                "git_commit": commit,
                "machine": platform.platform(),
                "totals": totals,
                "exercises": rows,
            }
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
            self.stdout.write(f"wrote {out}")
