"""Skill prerequisites form a DAG: every cycle is refused and nothing changes."""

import pytest

from common.errors import ApplicationError
from courses import services
from courses.models import Skill, SkillPrerequisite
from tests.courses.factories import CourseFactory, SkillFactory

pytestmark = pytest.mark.django_db


def edges(course):
    return set(
        SkillPrerequisite.objects.filter(skill__course=course).values_list(
            "skill__code", "prerequisite__code"
        )
    )


def test_skill_create_with_prerequisites_records_edges():
    # given
    course = CourseFactory()
    fractions = SkillFactory(course=course, code="fractions")
    equivalent = SkillFactory(course=course, code="equivalent")
    # when
    skill = services.skill_create(
        course=course,
        code="Add-Fractions",
        name="Add fractions",
        prerequisites=[fractions, equivalent],
    )
    # then
    assert skill.code == "add-fractions"
    assert skill.name_en == "Add fractions"
    assert edges(course) == {("add-fractions", "fractions"), ("add-fractions", "equivalent")}


def test_two_skill_cycle_is_refused_and_nothing_changes():
    # given a requires b
    course = CourseFactory()
    a = SkillFactory(course=course, code="a")
    b = SkillFactory(course=course, code="b")
    services.skill_prerequisites_set(skill=a, prerequisites=[b])
    # when b is made to require a
    with pytest.raises(ApplicationError) as excinfo:
        services.skill_prerequisites_set(skill=b, prerequisites=[a])
    # then
    assert excinfo.value.message == "This would make a cycle of prerequisites: b → a → b."
    assert excinfo.value.field == "prerequisites"
    assert excinfo.value.extra == {"cycle": ["b", "a", "b"]}
    assert edges(course) == {("a", "b")}


def test_long_cycle_is_refused_and_existing_edges_kept():
    # given c requires b, b requires a; d requires c
    course = CourseFactory()
    a, b, c, d = (SkillFactory(course=course, code=code) for code in "abcd")
    services.skill_prerequisites_set(skill=c, prerequisites=[b])
    services.skill_prerequisites_set(skill=b, prerequisites=[a])
    services.skill_prerequisites_set(skill=d, prerequisites=[c])
    # when a is made to require d (a → d → c → b → a)
    with pytest.raises(ApplicationError) as excinfo:
        services.skill_prerequisites_set(skill=a, prerequisites=[d])
    # then
    assert excinfo.value.extra == {"cycle": ["a", "d", "c", "b", "a"]}
    assert edges(course) == {("c", "b"), ("b", "a"), ("d", "c")}


def test_diamond_is_allowed():
    # given d requires b and c, which both require a
    course = CourseFactory()
    a, b, c, d = (SkillFactory(course=course, code=code) for code in "abcd")
    services.skill_prerequisites_set(skill=b, prerequisites=[a])
    services.skill_prerequisites_set(skill=c, prerequisites=[a])
    # when
    services.skill_prerequisites_set(skill=d, prerequisites=[b, c])
    # then
    assert edges(course) == {("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")}


def test_self_prerequisite_is_refused():
    skill = SkillFactory()
    with pytest.raises(ApplicationError, match="cannot be its own prerequisite"):
        services.skill_prerequisites_set(skill=skill, prerequisites=[skill])
    assert SkillPrerequisite.objects.count() == 0


def test_prerequisite_from_another_course_is_refused():
    skill = SkillFactory()
    other = SkillFactory()
    with pytest.raises(ApplicationError, match="same course"):
        services.skill_prerequisites_set(skill=skill, prerequisites=[other])
    assert SkillPrerequisite.objects.count() == 0


def test_replacing_prerequisites_removes_old_edges():
    course = CourseFactory()
    a, b, c = (SkillFactory(course=course, code=code) for code in "abc")
    services.skill_prerequisites_set(skill=c, prerequisites=[a])
    services.skill_prerequisites_set(skill=c, prerequisites=[b])
    assert edges(course) == {("c", "b")}


def test_skill_create_with_duplicate_code_changes_nothing():
    course = CourseFactory()
    SkillFactory(course=course, code="fractions")
    with pytest.raises(ApplicationError) as excinfo:
        services.skill_create(course=course, code="fractions", name="Again")
    assert excinfo.value.field == "code"
    assert Skill.objects.filter(course=course).count() == 1


def test_skill_create_with_bad_code_is_refused():
    course = CourseFactory()
    with pytest.raises(ApplicationError) as excinfo:
        services.skill_create(course=course, code="has spaces!", name="X")
    assert excinfo.value.field == "code"
    assert Skill.objects.count() == 0
