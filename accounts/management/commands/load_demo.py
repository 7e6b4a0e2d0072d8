"""Load the demo school (idempotent): a school admin, a teacher, a student and a class."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Classroom, Membership, Role, School, User

DEMO_PASSWORD = "exocortex-demo"  # noqa: S105 - printed for the newcomer, demo data only
DEMO_CLASS_CODE = "DEMO2345"


class Command(BaseCommand):
    help = "Create the demo school, its people and a class (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        school, _ = School.objects.get_or_create(name="Demo School")
        people = {}
        for email, name, role in (
            ("admin@demo.exocortex.local", "Dana Admin", Role.SCHOOL_ADMIN),
            ("teacher@demo.exocortex.local", "Tomás Teacher", Role.TEACHER),
            ("student@demo.exocortex.local", "Sara Student", Role.STUDENT),
        ):
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User(username=email, email=email, display_name=name, role=role)
                user.school = school
                user.set_password(DEMO_PASSWORD)
                user.welcome_sent_at = timezone.now()
                user.save()
            people[role] = user
        classroom, _ = Classroom.objects.get_or_create(
            join_code=DEMO_CLASS_CODE,
            defaults={
                "school": school,
                "teacher": people[Role.TEACHER],
                "name": "Math 7A",
                "capacity": 40,
                "join_code_expires_at": timezone.now() + timedelta(days=365),
            },
        )
        Membership.objects.get_or_create(classroom=classroom, student=people[Role.STUDENT])
        self.stdout.write(
            "Demo data ready. Log in as teacher@demo.exocortex.local, "
            f"student@demo.exocortex.local or admin@demo.exocortex.local with password "
            f"'{DEMO_PASSWORD}'; class code {DEMO_CLASS_CODE}."
        )
