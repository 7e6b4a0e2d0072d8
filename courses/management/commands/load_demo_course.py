"""Load the demo course into the demo school (idempotent). Run `load_demo` first."""

from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import School, User
from courses.models import Course
from courses.packages import course_create_from_manifest, manifest_problems

DEMO_MANIFEST = Path(__file__).resolve().parents[2] / "demo" / "fractions-and-equations.yaml"
DEMO_SCHOOL = "Demo School"
DEMO_TEACHER = "teacher@demo.exocortex.local"


class Command(BaseCommand):
    help = "Attach the demo course (fractions and linear equations) to the Demo School."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        manifest = yaml.safe_load(DEMO_MANIFEST.read_text(encoding="utf-8"))
        problems = manifest_problems(manifest, {})
        if problems:
            raise CommandError("\n".join(str(p) for p in problems))
        school, _created = School.objects.get_or_create(name=DEMO_SCHOOL)
        title = manifest["course"]["title"]["en"]
        if Course.objects.filter(school=school, title_en=title).exists():
            self.stdout.write(f"Demo course already loaded: {title}.")
            return
        # The demo teacher from `load_demo` authors it; without it, nobody does.
        author = User.objects.filter(email__iexact=DEMO_TEACHER, school=school).first()
        course = course_create_from_manifest(
            school=school, author=author, manifest=manifest, assets={}
        )
        self.stdout.write(f"Demo course loaded: {title} (course {course.id}).")
