"""Course packages: lossless round trip, and broken packages rejected with every problem
located, changing nothing."""

import io
import zipfile

import pytest
import yaml
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from courses import services
from courses.models import Course, CourseAsset, Exercise, ExerciseKind, Lesson, Skill
from courses.packages import (
    MAX_PACKAGE_BYTES,
    PackageError,
    course_export,
    course_import,
    course_manifest,
)
from tests.courses.factories import CourseFactory, UnitFactory
from tests.factories import StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def rich_course():
    """A course using every feature the format carries."""
    teacher = TeacherFactory()
    course = services.course_create(
        author=teacher, title="Fractions", source_language="en", description="Parts of a whole"
    )
    services.course_update(course=course, language="es", title="Fracciones", description="")
    services.course_update(course=course, language="ar", title="الكسور", description="أجزاء")
    meaning = services.skill_create(course=course, code="meaning", name="Meaning")
    adding = services.skill_create(
        course=course, code="adding", name="Adding", prerequisites=[meaning]
    )
    services.skill_update(skill=adding, language="fr", name="Addition", description="")
    CourseAsset.objects.create(
        course=course, name="pie.png", content_type="image/png", file=ContentFile(PNG, "pie.png")
    )
    unit = services.unit_create(course=course, title="Basics")
    lesson = services.lesson_create(unit=unit, title="Adding", body="![pie](asset:pie.png) $1+1$")
    services.lesson_update(lesson=lesson, language="es", title="Sumar", body="$1+1$ es $2$")
    services.exercise_create(
        lesson=lesson,
        kind=ExerciseKind.SINGLE_CHOICE,
        prompt="Pick",
        answer={},
        skills=[adding],
        choices=[("a", True), ("b", False)],
        hints=["h1", "h2"],
        solution="sol",
    )
    kinds = [
        (ExerciseKind.MULTIPLE_CHOICE, {}, [("x", True), ("y", True), ("z", False)], ""),
        (ExerciseKind.NUMERIC, {"value": "12", "tolerance": "0.5", "unit": "cm"}, [], ""),
        (ExerciseKind.EXPRESSION, {"expected": "2(x+1)"}, [], ""),
        (ExerciseKind.SHORT_TEXT, {"accepted": ["half"], "accent_sensitive": True}, [], ""),
        (ExerciseKind.FREE_RESPONSE, {}, [], "Mentions the common denominator."),
    ]
    for kind, answer, choices, rubric in kinds:
        services.exercise_create(
            lesson=lesson,
            kind=kind,
            prompt=f"Q {kind}",
            answer=answer,
            skills=[meaning, adding],
            choices=choices,
            rubric=rubric,
        )
    services.lesson_publish(lesson=lesson)
    services.lesson_create(unit=UnitFactory(course=course), title="Draft lesson")
    services.course_set_published(course=course, published=True)
    return course


def test_round_trip_is_lossless():
    # given
    course = rich_course()
    package = course_export(course=course)
    importer = TeacherFactory()
    # when
    imported = course_import(author=importer, data=package)
    # then
    assert imported.pk != course.pk
    assert imported.school_id == importer.school_id
    assert course_manifest(course=imported) == course_manifest(course=course)
    assert imported.assets.get().file.read() == PNG
    lesson = Lesson.objects.get(unit__course=imported, title_en="Adding")
    assert lesson.published_version.snapshot["exercise_versions"] == list(
        lesson.exercises.values_list("versions__id", flat=True).order_by("position")
    )


def test_manifest_is_documented_yaml():
    package = course_export(course=rich_course())
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert sorted(archive.namelist()) == ["assets/pie.png", "course.yaml"]
        manifest = yaml.safe_load(archive.read("course.yaml"))
    assert manifest["format"] == "exocortex-course"
    assert manifest["course"]["title"] == {"en": "Fractions", "es": "Fracciones", "ar": "الكسور"}
    assert manifest["skills"][0] == {
        "code": "adding",
        "name": {"en": "Adding", "fr": "Addition"},
        "description": {},
        "prerequisites": ["meaning"],
    }


def build_package(manifest=None, files=None, *, raw_manifest=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if raw_manifest is not None:
            archive.writestr("course.yaml", raw_manifest)
        elif manifest is not None:
            archive.writestr("course.yaml", yaml.safe_dump(manifest, allow_unicode=True))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def minimal_manifest():
    return {
        "format": "exocortex-course",
        "version": 1,
        "course": {"source_language": "en", "title": {"en": "Algebra"}},
        "skills": [
            {"code": "a", "name": {"en": "A"}, "prerequisites": []},
            {"code": "b", "name": {"en": "B"}, "prerequisites": ["a"]},
        ],
        "units": [
            {
                "title": {"en": "Unit"},
                "lessons": [
                    {
                        "title": {"en": "Lesson"},
                        "body": {"en": "Text"},
                        "published": True,
                        "exercises": [
                            {
                                "kind": "numeric",
                                "prompt": {"en": "1+1?"},
                                "answer": {"value": "2"},
                                "skills": ["a"],
                            }
                        ],
                    }
                ],
            }
        ],
        "assets": [],
    }


def test_minimal_package_imports():
    course = course_import(author=TeacherFactory(), data=build_package(minimal_manifest()))
    assert course.title_en == "Algebra"
    assert Exercise.objects.filter(lesson__unit__course=course).count() == 1
    assert course.units.get().lessons.get().is_published is True


def mutate(change):
    manifest = minimal_manifest()
    change(manifest)
    return build_package(manifest)


EXERCISE = "course.yaml: units[0].lessons[0].exercises[0]"
BROKEN = {
    "not a zip": (b"hello", ["package: This is not a zip file."]),
    "no manifest": (
        build_package(None, {"assets/a.png": PNG}),
        ["course.yaml: Missing."],
    ),
    "bad yaml": (
        build_package(raw_manifest="course: [unclosed"),
        [
            "course.yaml: line 1: Not valid YAML in UTF-8.",
        ],
    ),
    "wrong format": (
        mutate(lambda m: m.update(format="other", version=2)),
        [
            "course.yaml: format: Expected exocortex-course.",
            "course.yaml: version: Unsupported version; expected 1.",
        ],
    ),
    "unknown language": (
        mutate(lambda m: m["course"].update(source_language="xx")),
        [
            "course.yaml: course.source_language: Unknown language.",
        ],
    ),
    "title missing in source language": (
        mutate(lambda m: m["course"].update(title={"es": "Álgebra"})),
        ["course.yaml: course.title.en: Required in the course's language (en)."],
    ),
    "skill cycle": (
        mutate(lambda m: m["skills"][0].update(prerequisites=["b"])),
        [
            "course.yaml: skills: This would make a cycle of prerequisites: a → b → a.",
        ],
    ),
    "unknown prerequisite": (
        mutate(lambda m: m["skills"][1].update(prerequisites=["zz"])),
        [
            "course.yaml: skills[1].prerequisites: Unknown skill zz.",
        ],
    ),
    "bad answer and unknown skill": (
        mutate(
            lambda m: m["units"][0]["lessons"][0]["exercises"][0].update(
                answer={"value": "two"}, skills=["nope"]
            )
        ),
        [
            f"{EXERCISE}.skills: Unknown skill nope.",
            f"{EXERCISE}.answer.value: Enter the correct number.",
        ],
    ),
    "malicious expression": (
        mutate(
            lambda m: m["units"][0]["lessons"][0]["exercises"][0].update(
                kind="expression", answer={"expected": "9**9**9**9"}
            )
        ),
        [f"{EXERCISE}.answer.expected: Expected answer: Exponent too large."],
    ),
    "two correct single choices": (
        mutate(
            lambda m: m["units"][0]["lessons"][0]["exercises"][0].update(
                kind="single_choice",
                answer={},
                choices=[{"text": {"en": "x"}, "correct": True}] * 2,
            )
        ),
        [f"{EXERCISE}.choices: Mark exactly one choice as correct."],
    ),
    "asset problems": (
        build_package(
            {
                **minimal_manifest(),
                "assets": [
                    {"name": "gone.png", "content_type": "image/png"},
                    {"name": "fake.png", "content_type": "image/png"},
                    {"name": "x.svg", "content_type": "image/svg+xml"},
                ],
            },
            {"assets/fake.png": b"<svg onload=alert(1)>", "assets/extra.gif": b"GIF89a"},
        ),
        [
            "assets/gone.png: Listed but missing.",
            "assets/fake.png: The file is not a image/png image.",
            "course.yaml: assets[2].content_type: Only PNG, JPEG, GIF and WebP images.",
            "assets/extra.gif: Not listed in course.yaml.",
        ],
    ),
    "path traversal": (
        build_package(minimal_manifest(), {"../evil.py": b"x"}),
        [
            "../evil.py: Unexpected file in the package.",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_package_reports_every_problem_and_writes_nothing(case):
    package, expected = BROKEN[case]
    CourseFactory()  # something already there, which must stay as it is
    before = (Course.objects.count(), Skill.objects.count(), Exercise.objects.count())
    with pytest.raises(PackageError) as excinfo:
        course_import(author=TeacherFactory(), data=package)
    assert excinfo.value.extra["problems"] == expected
    assert (Course.objects.count(), Skill.objects.count(), Exercise.objects.count()) == before


def test_zip_bomb_is_refused_before_unpacking():
    package = build_package(minimal_manifest(), {"assets/big.png": b"\x00" * (60 * 1024 * 1024)})
    assert len(package) < 1024 * 1024
    with pytest.raises(PackageError) as excinfo:
        course_import(author=TeacherFactory(), data=package)
    assert excinfo.value.extra["problems"] == ["package: The package unpacks to too much data."]


def test_oversized_upload_is_refused():
    with pytest.raises(PackageError) as excinfo:
        course_import(author=TeacherFactory(), data=b"0" * (MAX_PACKAGE_BYTES + 1))
    assert excinfo.value.extra["problems"] == ["package: The file is larger than 20 MB."]


def test_student_cannot_import():
    with pytest.raises(Exception, match="Only teachers"):
        course_import(author=StudentFactory(), data=build_package(minimal_manifest()))
    assert Course.objects.count() == 0


# --- the demo course ------------------------------------------------------------------


def test_load_demo_course_is_idempotent_and_complete():
    call_command("load_demo")
    call_command("load_demo_course")
    call_command("load_demo_course")
    course = Course.objects.get(school__name="Demo School")
    assert course.is_published is True
    assert course.created_by.email == "teacher@demo.exocortex.local"
    exercises = Exercise.objects.filter(lesson__unit__course=course)
    assert set(exercises.values_list("kind", flat=True)) == set(ExerciseKind.values)
    for exercise in exercises:
        assert exercise.prompt_en
        assert exercise.prompt_es
        assert exercise.solution_en
        assert exercise.solution_es
        assert exercise.hints.count() >= 1
        assert exercise.skills.count() >= 1
    skills = dict(course.skills.values_list("code", "name_es"))
    assert skills["add-fractions"] == "Sumar fracciones"
    assert set(
        course.skills.get(code="equations-with-fractions").prerequisites.values_list(
            "code", flat=True
        )
    ) == {"two-step-equations", "add-fractions"}
    assert all(lesson.is_published for unit in course.units.all() for lesson in unit.lessons.all())


def test_load_demo_course_creates_school_when_missing():
    call_command("load_demo_course")
    assert Course.objects.get().school.name == "Demo School"


def test_demo_course_round_trips():
    call_command("load_demo_course")
    course = Course.objects.get()
    imported = course_import(author=TeacherFactory(), data=course_export(course=course))
    assert course_manifest(course=imported) == course_manifest(course=course)


# --- pages ----------------------------------------------------------------------------


def test_export_then_import_through_pages(client):
    course = rich_course()
    teacher = TeacherFactory(school=course.school)
    client.force_login(teacher)
    response = client.get(reverse("courses:course_export", args=[course.id]))
    assert response["Content-Type"] == "application/zip"
    upload = SimpleUploadedFile("course.zip", response.content, "application/zip")
    response = client.post(reverse("courses:course_import"), {"package": upload})
    imported = Course.objects.exclude(pk=course.pk).get()
    assert response["Location"] == reverse("courses:course_edit", args=[imported.id])
    assert course_manifest(course=imported) == course_manifest(course=course)


def test_import_page_lists_every_problem(client):
    client.force_login(TeacherFactory())
    package, expected = BROKEN["bad answer and unknown skill"]
    upload = SimpleUploadedFile("course.zip", package, "application/zip")
    response = client.post(reverse("courses:course_import"), {"package": upload})
    assert response.status_code == 400
    assert response.context["import_problems"] == expected
    assert Course.objects.count() == 0


def test_export_of_another_schools_course_is_404(client):
    course = CourseFactory()
    client.force_login(TeacherFactory())
    assert client.get(reverse("courses:course_export", args=[course.id])).status_code == 404
