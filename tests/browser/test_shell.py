"""The shell in a real browser: sign in, see the navbar, a 404 page, sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from selenium.webdriver.support.ui import WebDriverWait

from auth.users import find_user_by_email
from data.demo import DEMO_ACCOUNTS, generate_demo_data

NAME = "Émilie Lefèvre"
EMAIL = "emilie.lefevre@example.org"
PASSWORD = "s3cret-pass"


def add_user(factory):
    factory.user(first="Émilie", last="Lefèvre", email=EMAIL, password=PASSWORD)
    factory.s.commit()


def wait_for_path(dash_duo, path: str, timeout: int = 10) -> None:
    WebDriverWait(dash_duo.driver, timeout).until(
        lambda driver: urlsplit(driver.current_url).path == path,
        f"the browser did not reach {path}",
    )


def submit_sign_in(dash_duo, email: str, password: str) -> None:
    """Fill the plain-HTML sign-in form (not a Dash page) and submit it."""
    dash_duo.wait_for_element("#signin-email").send_keys(email)
    dash_duo.find_element("#signin-password").send_keys(password)
    dash_duo.find_element("#signin-submit").click()


def test_shl001_demo_account_signs_in_sees_shell_and_404_then_signs_out(dash_duo, dash_app, db):
    """As a new user would: the demo data and a printed demo account, nothing else."""
    generate_demo_data(db, learners=20, seed=3)
    account = next(a for a in DEMO_ACCOUNTS if a.role == "statistics_manager")
    with db.session() as s:
        user = find_user_by_email(s, account.email)
        name = f"{user.first_name} {user.last_name}"
    # The browser is not signed in yet: do not let dash_duo open "/" and wait for Dash there.
    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")

    dash_duo.driver.get(base + "/login")
    submit_sign_in(dash_duo, account.email, account.password)
    wait_for_path(dash_duo, "/")
    dash_duo.server_url = base  # signed in: the Dash app loads (dash_duo waits for it)
    dash_duo.wait_for_text_to_equal("#shell-user-name", name)
    assert dash_duo.find_element("#shell-signout-link").text == "Sign out"
    assert "Overview" in dash_duo.find_element("#shell-nav").text
    dash_duo.wait_for_element("#overview-card-learners-value")

    dash_duo.driver.get(base + "/no/such/page")
    dash_duo.wait_for_element("#page-not-found")
    dash_duo.wait_for_text_to_equal("#shell-user-name", name)
    assert "Page not found" in dash_duo.find_element("#page-not-found").text
    # The address is no page: the document itself answers 404, the one message the browser logs.
    [entry] = dash_duo.get_logs()
    assert "/no/such/page" in entry["message"] and "status of 404" in entry["message"]
    dash_duo.reset_log_timestamp()

    dash_duo.find_element("#shell-signout-link").click()
    wait_for_path(dash_duo, "/logout")  # a confirmation: signing out is a POST with its token
    dash_duo.wait_for_element("#signout-submit").click()
    wait_for_path(dash_duo, "/login")
    dash_duo.wait_for_text_to_equal("#signin-message", "You have been signed out.")
    assert dash_duo.find_element("#signin-form")

    # Signed out for real: the app sends the browser back to the sign-in page.
    dash_duo.driver.get(base + "/")
    wait_for_path(dash_duo, "/login")
    dash_duo.wait_for_element("#signin-form")

    assert dash_duo.get_logs() == []


def test_shl002_deep_link_leads_through_sign_in_to_the_page(dash_duo, dash_app, factory):
    add_user(factory)
    dash_duo.start_server(dash_app, navigate=False)
    base = dash_duo.server.url.rstrip("/")

    dash_duo.driver.get(base + "/no/such/page")
    wait_for_path(dash_duo, "/login")
    submit_sign_in(dash_duo, EMAIL, "wrong-password")
    dash_duo.wait_for_text_to_equal("#signin-message", "Wrong email or password.")
    # A wrong password answers 401 on purpose: the one message the browser logs, then none.
    [entry] = dash_duo.get_logs()
    assert "/login?next=%2Fno%2Fsuch%2Fpage" in entry["message"]
    assert "status of 401" in entry["message"]
    dash_duo.reset_log_timestamp()
    # The email is kept; the password is typed again.
    assert dash_duo.find_element("#signin-email").get_attribute("value") == EMAIL
    dash_duo.find_element("#signin-password").send_keys(PASSWORD)
    dash_duo.find_element("#signin-submit").click()

    wait_for_path(dash_duo, "/no/such/page")
    dash_duo.wait_for_element("#page-not-found")
    dash_duo.wait_for_text_to_equal("#shell-user-name", NAME)
    [entry] = dash_duo.get_logs()  # the unknown address answers 404
    assert "/no/such/page" in entry["message"] and "status of 404" in entry["message"]
