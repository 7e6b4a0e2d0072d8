"""A student works through the demo lesson in a real browser: continue from the class
page, a wrong answer with feedback, a hint, a right answer, the worked solution, the next
exercise chosen for them, and the mastery bar moving."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_student_learns_from_class_page_to_mastery_change(browser, web_server, screenshot_dir):
    web_server.manage("load_demo")
    web_server.manage("load_demo_course")
    web_server.manage("load_demo_assignments")
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.goto(web_server.url + "/accounts/login/")
    page.get_by_label("E-mail").fill("student@demo.exocortex.local")
    page.get_by_label("Password").fill("exocortex-demo")
    page.get_by_role("button", name="Log in").click()

    # the class page lists the assigned course with "continue"
    page.get_by_role("link", name="Math 7A").click()
    expect(page.get_by_test_id("class-course")).to_contain_text("Fractions and linear equations")
    expect(page.get_by_test_id("class-course")).to_contain_text("0 of 6 skills mastered")
    page.get_by_test_id("continue").click()
    expect(page).to_have_url(re.compile(r"/learn/lessons/\d+/#lesson$"))
    expect(page.get_by_test_id("lesson-title")).to_have_text("What is a fraction?")
    expect(page.get_by_test_id("lesson-body").locator(".katex").first).to_be_visible()

    # one exercise, chosen for this learner; no solution before trying
    exercise = page.get_by_test_id("exercise")
    expect(exercise).to_have_count(1)
    expect(page.get_by_test_id("exercise-prompt")).to_contain_text("what is the name")
    expect(page.get_by_test_id("open-solution")).to_have_count(0)

    # a wrong answer: feedback, and the mastery bar moves down from the prior
    page.get_by_label("Your answer").fill("numerator")
    page.get_by_test_id("check").click()
    expect(page.get_by_test_id("result")).to_contain_text("Not quite")
    bar = exercise.get_by_test_id("mastery-bar").first
    expect(bar.get_by_test_id("mastery-value")).to_have_text("18%")

    # a hint, then the right answer, then the worked solution
    page.get_by_test_id("hint").click()
    expect(page.get_by_test_id("hints")).to_contain_text("below the line")
    page.get_by_label("Your answer").fill("denominator")
    page.get_by_test_id("check").click()
    expect(page.get_by_test_id("result")).to_contain_text("Correct!")
    page.get_by_test_id("open-solution").click()
    expect(page.get_by_test_id("solution")).to_contain_text("denominator")

    # the next exercise (a different one), answered right first time: mastery rises
    page.get_by_test_id("next").click()
    expect(page.get_by_test_id("exercise-prompt")).to_contain_text("Pick all that apply")
    page.get_by_label("2/4").check()
    page.get_by_label("3/6").check()
    page.get_by_test_id("check").click()
    expect(page.get_by_test_id("result")).to_contain_text("Correct!")
    bar = page.get_by_test_id("exercise").get_by_test_id("mastery-bar").first
    expect(bar.get_by_test_id("mastery-value")).to_have_text("60%")
    expect(bar).to_contain_text("+40")
    page.wait_for_timeout(900)  # let the bar finish growing for the screenshot
    page.screenshot(path=str(screenshot_dir / "student-lesson.png"), full_page=True)

    # my progress shows the practised skills
    page.get_by_test_id("nav-progress").click()
    expect(page.get_by_test_id("streak")).to_contain_text("1")
    expect(page.get_by_test_id("course-progress")).to_contain_text("Equivalent fractions")
    page.screenshot(path=str(screenshot_dir / "student-progress.png"), full_page=True)

    # the teacher sees the class heatmap with this student's practised skills
    teacher = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    teacher.goto(web_server.url + "/accounts/login/")
    teacher.get_by_label("E-mail").fill("teacher@demo.exocortex.local")
    teacher.get_by_label("Password").fill("exocortex-demo")
    teacher.get_by_role("button", name="Log in").click()
    teacher.get_by_role("link", name="Math 7A").click()
    teacher.get_by_test_id("mastery-link").click()
    heatmap = teacher.get_by_test_id("heatmap")
    expect(heatmap).to_contain_text("Sara Student")
    expect(heatmap.get_by_test_id("heat-cell")).to_have_count(6)
    expect(heatmap).to_contain_text("60")
    teacher.screenshot(path=str(screenshot_dir / "teacher-class-mastery.png"), full_page=True)
