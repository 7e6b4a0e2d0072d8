import factory

from courses.models import Choice, Course, Exercise, ExerciseKind, Hint, Lesson, Skill, Unit
from tests.factories import SchoolFactory


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    school = factory.SubFactory(SchoolFactory)
    source_language = "en"
    title_en = factory.Sequence(lambda n: f"Course {n}")


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    course = factory.SubFactory(CourseFactory)
    position = factory.Sequence(lambda n: n)
    title_en = factory.Sequence(lambda n: f"Unit {n}")


class LessonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesson

    unit = factory.SubFactory(UnitFactory)
    position = factory.Sequence(lambda n: n)
    title_en = factory.Sequence(lambda n: f"Lesson {n}")
    body_en = "Add the numerators: $\\frac{1}{4} + \\frac{2}{4} = \\frac{3}{4}$."


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill

    course = factory.SubFactory(CourseFactory)
    code = factory.Sequence(lambda n: f"skill-{n}")
    name_en = factory.Sequence(lambda n: f"Skill {n}")


class ExerciseFactory(factory.django.DjangoModelFactory):
    """A numeric exercise tagged with one skill of the lesson's course."""

    class Meta:
        model = Exercise
        skip_postgeneration_save = True

    lesson = factory.SubFactory(LessonFactory)
    position = factory.Sequence(lambda n: n)
    kind = ExerciseKind.NUMERIC
    prompt_en = "What is $\\frac{1}{4} + \\frac{2}{4}$ as a decimal?"
    solution_en = "$\\frac{3}{4} = 0.75$"
    answer = factory.LazyFunction(
        lambda: {"value": "0.75", "tolerance": "0", "relative": False, "unit": ""}
    )

    @factory.post_generation
    def skills(obj, create, extracted, **kwargs):
        if not create:
            return
        obj.skills.set(extracted or [SkillFactory(course=obj.lesson.unit.course)])


class ChoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Choice

    exercise = factory.SubFactory(ExerciseFactory, kind=ExerciseKind.SINGLE_CHOICE, answer={})
    position = factory.Sequence(lambda n: n)
    text_en = factory.Sequence(lambda n: f"Choice {n}")


class HintFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hint

    exercise = factory.SubFactory(ExerciseFactory)
    position = factory.Sequence(lambda n: n)
    text_en = factory.Sequence(lambda n: f"Hint {n}")
