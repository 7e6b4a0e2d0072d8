"""Assign the Demo School's published courses to its demo class (idempotent).

Run after `load_demo` and `load_demo_course`, so the demo student finds the course on
their class page."""

from django.core.management.base import BaseCommand

from accounts.models import Classroom, School
from courses.models import Course
from learning.services import course_assign

DEMO_SCHOOL = "Demo School"
DEMO_CLASS_CODE = "DEMO2345"


class Command(BaseCommand):
    help = "Assign the demo school's published courses to the demo class."

    def handle(self, *args, **options) -> None:
        school = School.objects.filter(name=DEMO_SCHOOL).first()
        classroom = Classroom.objects.filter(join_code=DEMO_CLASS_CODE, school=school).first()
        if school is None or classroom is None:
            self.stdout.write("No demo class: run `manage.py load_demo` first.")
            return
        for course in Course.objects.filter(school=school, is_published=True):
            course_assign(classroom=classroom, course=course, assigned_by=classroom.teacher)
            self.stdout.write(f"Course {course.id} assigned to {classroom.name}.")
