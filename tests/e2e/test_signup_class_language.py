"""A visitor signs up, creates or joins a class and switches language, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase"


def sign_up(page, base_url, *, name, email, role, school=""):
    page.goto(base_url + "/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Teacher" if role == "teacher" else "Student").check()
    if school:
        page.get_by_label("New school's name").fill(school)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))


def test_teacher_creates_class_student_joins_and_switches_to_arabic(
    browser, live_server_url, screenshot_dir
):
    teacher_page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    sign_up(
        teacher_page,
        live_server_url,
        name="Ms Rivera",
        email="rivera@example.org",
        role="teacher",
        school="Northside School",
    )
    expect(teacher_page.get_by_test_id("school-name")).to_have_text("Northside School")
    teacher_page.get_by_label("Class name").fill("Algebra 1")
    teacher_page.get_by_role("button", name="Create class").click()
    expect(teacher_page.get_by_test_id("classroom-name")).to_have_text("Algebra 1")
    code = teacher_page.get_by_test_id("join-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    # The roster is live over the class socket.
    expect(teacher_page.get_by_test_id("student-list")).to_have_attribute("data-live", "true")

    student_page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    sign_up(student_page, live_server_url, name="Noor", email="noor@example.org", role="student")
    student_page.get_by_label("Class code").fill("WRONG234")
    student_page.get_by_role("button", name="Join").click()
    expect(student_page.get_by_text("No class has this code")).to_be_visible()
    student_page.get_by_label("Class code").fill(code.lower())
    student_page.get_by_role("button", name="Join").click()
    expect(student_page.get_by_test_id("classroom-name")).to_have_text("Algebra 1")

    expect(teacher_page.get_by_test_id("student-list")).to_contain_text("Noor")
    expect(teacher_page.locator("[data-student-count]")).to_have_text("1")
    teacher_page.screenshot(path=str(screenshot_dir / "teacher-class.png"), full_page=True)

    student_page.get_by_label("Language").select_option("ar")
    expect(student_page.locator("html")).to_have_attribute("dir", "rtl")
    expect(student_page.locator("html")).to_have_attribute("lang", "ar")
    student_page.goto(live_server_url + "/accounts/dashboard/")
    expect(student_page.get_by_role("heading", name="صفوفي")).to_be_visible()
    expect(student_page.locator("html")).to_have_attribute("dir", "rtl")
    # Right-to-left for real: the brand sits at the right edge of the header.
    brand = student_page.locator(".brand").bounding_box()
    assert brand["x"] > 600
    student_page.screenshot(path=str(screenshot_dir / "student-arabic.png"), full_page=True)
