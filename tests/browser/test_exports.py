"""Issue 12, three defects a reviewer found through the French interface, in a real browser:

1. the OPCO dialog's Download now, with filters matching nothing, left the app for a bare
   "404 · Rien à exporter" page: the dialog now says so and disables both buttons;
2. a download link followed while signed out answered raw JSON: the browser now goes through
   the sign-in page, then the download starts;
3. a logo of another type (.txt) chosen in the attestation dialog was dropped without a word by
   the upload's `accept` filter: the server's sentence now says what is wrong.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from data.models import User
from tests import attestation_world
from tests.browser.test_sessions import allow_downloads, wait_for_download
from tests.browser.test_shell import submit_sign_in
from tests.factories import Factory
from tests.opco_world import ACCOUNTS, PASSWORD, build_world

NOTHING_FR = (
    "Aucune connexion ne correspond à ces filtres, il n'y a donc rien à exporter : élargissez les "
    "dates ou changez les filtres."
)


def _french(app, user_id: str) -> None:
    with app.server.extensions["learnstats_db"].session() as s:
        s.get(User, user_id).language = "fr"
        s.commit()


def _sign_in_to(dash_duo, app, email: str, password: str, path: str) -> str:
    dash_duo.start_server(app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(f"{base}/login?next={path}")
    submit_sign_in(dash_duo, email, password)
    WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == path)
    return base


def _type_date(dash_duo, css: str, text: str) -> None:
    field = dash_duo.find_element(css)
    dash_duo.clear_input(field)
    field.send_keys(text)
    field.send_keys(Keys.ENTER)


def test_ux12_b001_opco_dialog_says_nothing_matches_instead_of_leaving(dash_duo, make_app):
    app = make_app(smtp_url="smtp://127.0.0.1:1")  # email configured: the button is enabled
    with app.server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
    _french(app, "inst")
    _sign_in_to(dash_duo, app, ACCOUNTS["inst"], PASSWORD, "/session/s-a")
    dash_duo.find_element("#opco-open-button").click()
    dash_duo.wait_for_element("#opco-dialog")
    link = dash_duo.find_element("#opco-download-link")
    WebDriverWait(dash_duo.driver, 10).until(lambda d: "session=s-a" in (link.get_attribute("href") or ""))
    email = dash_duo.find_element("#opco-email-button")
    WebDriverWait(dash_duo.driver, 10).until(lambda d: email.is_enabled())

    # Session s-a ran in March: from 1 May on, no connection matches.
    _type_date(dash_duo, "input#opco-dates.dash-datepicker-start-date", "01/05/2026")
    dash_duo.wait_for_text_to_equal("#opco-nothing-to-export", NOTHING_FR, timeout=10)
    link = dash_duo.find_element("#opco-download-link")
    assert link.get_attribute("href") is None
    assert "disabled" in link.get_attribute("class").split()
    assert not dash_duo.find_element("#opco-email-button").is_enabled()
    # Even a click that gets through (a script's, as a keyboard user's Enter would) goes nowhere.
    dash_duo.driver.execute_script("arguments[0].click();", link)
    assert urlsplit(dash_duo.driver.current_url).path == "/session/s-a"
    assert dash_duo.find_element("#opco-dialog").is_displayed()

    # Back to March: the link and the email button come back, the sentence goes.
    _type_date(dash_duo, "input#opco-dates.dash-datepicker-start-date", "01/03/2026")
    WebDriverWait(dash_duo.driver, 10).until(
        lambda d: (
            "from=2026-03-01" in (d.find_element(By.ID, "opco-download-link").get_attribute("href") or "")
        )
    )
    assert dash_duo.find_elements("#opco-nothing-to-export") == []
    assert dash_duo.find_element("#opco-email-button").is_enabled()
    assert dash_duo.get_logs() == []


def test_ux12_b002_signed_out_download_link_goes_through_sign_in(dash_duo, make_app, tmp_path):
    app = make_app()
    with app.server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
    _french(app, "inst")
    downloads = allow_downloads(dash_duo, tmp_path)
    dash_duo.start_server(app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    link = "/download/opco-logs?session=s-a&format=csv&delimiter=%3B"
    dash_duo.driver.get(base + link)
    WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == "/login")
    assert parse_qs(urlsplit(dash_duo.driver.current_url).query) == {"next": [link]}
    assert "sign in first" not in dash_duo.driver.page_source
    submit_sign_in(dash_duo, ACCOUNTS["inst"], PASSWORD)
    WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == "/login/download")
    dash_duo.wait_for_element("#file-download")
    downloaded = wait_for_download(downloads)
    assert downloaded.name.startswith("opco-logs-s-a-") and downloaded.suffix == ".csv"
    assert downloaded.read_bytes().startswith(b"\xef\xbb\xbfLast name;First name;Email;")


def test_ux12_b003_attestation_logo_of_another_type_gets_the_servers_sentence(dash_duo, make_app, tmp_path):
    app = make_app()
    with app.server.extensions["learnstats_db"].session() as s:
        attestation_world.build_world(Factory(s))
    _french(app, "inst1")
    notes = tmp_path / "notes.txt"
    notes.write_text("a text file, not a logo\n")
    _sign_in_to(dash_duo, app, attestation_world.ACCOUNTS["inst1"], attestation_world.PASSWORD, "/session/S1")
    dash_duo.find_element("#att-open-button").click()
    dash_duo.wait_for_element("#att-org-name")
    for name in ("logo", "stamp"):
        upload = dash_duo.driver.find_element(By.CSS_SELECTOR, f"#att-{name}-upload input[type=file]")
        upload.send_keys(str(notes))
        dash_duo.wait_for_contains_text("#att-message", "notes.txt", timeout=10)
        assert "ce n'est pas une image PNG ou JPEG" in dash_duo.find_element("#att-message").text
        dash_duo.driver.execute_script("document.getElementById('att-message').textContent = '';")
