"""A teacher authors a lesson with math and an exercise, previews it, publishes it, and
checks it as a learner sees it, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase"


def test_teacher_creates_previews_and_publishes_lesson_with_math(
    browser, live_server_url, screenshot_dir
):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    # a teacher founds a school
    page.goto(live_server_url + "/accounts/signup/")
    page.get_by_label("Your name").fill("Ms Okafor")
    page.get_by_label("E-mail").fill("okafor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Teacher").check()
    page.get_by_label("New school's name").fill("Riverside School")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))

    # creates a course, a skill, a unit and a lesson
    page.get_by_test_id("nav-courses").click()
    page.get_by_label("Title").fill("Fractions")
    page.get_by_label("Written in").select_option("en")
    page.get_by_role("button", name="Create course").click()
    expect(page.get_by_test_id("course-title")).to_have_text("Fractions")
    page.get_by_role("link", name="Add skill").click()
    page.get_by_label("Code").fill("add-fractions")
    page.get_by_label("Name").fill("Add fractions with like denominators")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Fractions").first.click()
    expect(page.get_by_test_id("skills")).to_contain_text("add-fractions")
    page.get_by_placeholder("New unit title").fill("Adding fractions")
    page.get_by_role("button", name="Add unit").click()
    page.get_by_placeholder("New lesson title").fill("Same denominators")
    page.get_by_role("button", name="Add lesson").click()
    expect(page).to_have_url(re.compile(r"/courses/lessons/\d+/edit/$"))

    # types Markdown with math: the live preview renders it with KaTeX
    page.get_by_label("Lesson text").fill(
        "Add the **numerators**: $\\frac{1}{4} + \\frac{2}{4} = \\frac{3}{4}$\n\n"
        "$$\\frac{a}{n} + \\frac{b}{n} = \\frac{a+b}{n}$$\n\n<script>window.pwned=1</script>"
    )
    preview = page.get_by_test_id("preview")
    expect(preview.locator(".katex").first).to_be_visible()
    expect(preview.locator(".katex-display")).to_have_count(1)
    expect(preview.locator("strong")).to_have_text("numerators")
    expect(preview).to_contain_text("<script>window.pwned=1</script>")
    assert page.evaluate("window.pwned") is None
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved. Publish the lesson")).to_be_visible()

    # adds a numeric exercise with a hint and a worked solution
    page.get_by_role("link", name="Number").click()
    page.get_by_label("Question").fill("What is $\\frac{1}{4} + \\frac{2}{4}$ as a decimal?")
    expect(page.get_by_test_id("preview").locator(".katex").first).to_be_visible()
    page.get_by_label("Correct number").fill("0.75")
    page.get_by_label("Hints").fill("Add the numerators first.")
    page.get_by_label("Worked solution").fill("$\\frac{3}{4} = 0.75$")
    page.get_by_label("add-fractions — Add fractions with like denominators").check()
    page.get_by_role("button", name="Save exercise").click()
    expect(page.get_by_test_id("exercises")).to_contain_text("Number")

    # publishes the lesson and the course
    page.get_by_role("button", name="Publish lesson").click()
    expect(page.get_by_test_id("lesson-status")).to_have_text("Published")
    page.screenshot(path=str(screenshot_dir / "course-authoring-lesson.png"), full_page=True)
    page.get_by_role("link", name="Fractions").first.click()
    page.get_by_role("button", name="Publish course").click()
    expect(page.get_by_test_id("course-status")).to_have_text("Published")

    # the published lesson, as learners see it, with math and server-side checking
    page.goto(page.url)
    page.get_by_role("link", name="Same denominators").click()
    page.get_by_role("link", name="View as learner").click()
    expect(page.get_by_test_id("lesson-body").locator(".katex").first).to_be_visible()
    page.get_by_label("Your answer").fill("0,75")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("result")).to_contain_text("Correct!")
    page.screenshot(path=str(screenshot_dir / "course-learner-lesson.png"), full_page=True)
