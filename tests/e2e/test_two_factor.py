"""A teacher turns on two-factor sign-in and then signs in with a code, in a real browser."""

import base64
import re
import time

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.e2e.test_signup_class_language import sign_up

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase"


def _code_from(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key on the page (RFC 6238, 30 s, 6 digits)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


def test_teacher_turns_on_two_factor_and_signs_in_with_a_code(
    browser, live_server_url, screenshot_dir
):
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    sign_up(
        page,
        live_server_url,
        name="Ms Adeyemi",
        email="adeyemi.2fa@example.org",
        role="teacher",
        school="Hillside Academy",
    )

    page.get_by_test_id("nav-security").click()
    expect(page.get_by_test_id("two-factor-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("two-factor-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Code").fill(_code_from(secret))
    page.get_by_role("button", name="Turn two-factor sign-in on").click()
    expect(page.get_by_test_id("two-factor-status")).to_be_visible()
    codes = page.get_by_test_id("backup-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.screenshot(path=str(screenshot_dir / "two-factor-on.png"), full_page=True)

    page.get_by_role("button", name="Log out").click()
    page.goto(live_server_url + "/accounts/login/")
    page.get_by_label("E-mail").fill("adeyemi.2fa@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # The password alone signs nothing in: the code step comes next.
    expect(page).to_have_url(re.compile(r"/accounts/login/code/$"))
    expect(page.get_by_test_id("user-name")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "two-factor-code-step.png"), full_page=True)
    page.get_by_label("Code").fill(_code_from(secret, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))
    expect(page.get_by_test_id("user-name")).to_have_text("Ms Adeyemi")
