"""A session instructor makes a session's OPCO attestations in a real browser: the dialog, an
image upload (a bad one refused with a sentence, a good one previewed), a refused SIRET, then
Generate with its background job and progress bar, the ZIP read back, a learner's own PDF from
the learners table, and the values kept for next time."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import urlsplit

from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.attestation_world import ACCOUNTS, PASSWORD, build_world
from tests.browser.test_shell import submit_sign_in
from tests.conftest import sign_in
from tests.factories import Factory


def _type(dash_duo, selector: str, text: str) -> None:
    element = dash_duo.find_element(selector)
    element.clear()
    element.send_keys(text)


def test_att_b001_generate_attestations_in_the_browser(dash_duo, make_app, tmp_path):
    app = make_app()
    with app.server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
    logo = tmp_path / "logo.png"
    Image.new("RGB", (300, 100), (20, 90, 200)).save(logo)
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is not an image")

    dash_duo.start_server(app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/login?next=/session/S1")
    submit_sign_in(dash_duo, ACCOUNTS["inst1"], PASSWORD)
    WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == "/session/S1")
    dash_duo.wait_for_text_to_equal("#session-title", "Sécurité incendie — automne")

    dash_duo.find_element("#att-open-button").click()
    dash_duo.wait_for_element("#att-org-name")
    upload = dash_duo.driver.find_element(By.CSS_SELECTOR, "#att-logo-upload input[type=file]")
    upload.send_keys(str(fake))
    dash_duo.wait_for_contains_text("#att-message", "not a PNG or JPEG image", timeout=10)
    upload.send_keys(str(logo))
    dash_duo.wait_for_element("#att-logo-preview img", timeout=10)

    _type(dash_duo, "#att-org-name", "Formations Œuvre & Compétences SARL")
    _type(dash_duo, "#att-address", "12 rue de l'Église, 69002 Lyon")
    _type(dash_duo, "#att-legal-representative", "Hélène Dupré")
    _type(dash_duo, "#att-place", "Lyon")
    _type(dash_duo, "#att-siret", "123")
    dash_duo.find_element("#att-generate-button").click()
    dash_duo.wait_for_contains_text("#att-message", "Nothing was generated", timeout=10)
    assert "declared duration" in dash_duo.find_element("#att-message").text
    assert "a SIRET is 14 digits" in dash_duo.find_element("#att-message").text

    _type(dash_duo, "#att-siret", "123 456 789 00012")
    _type(dash_duo, "#att-duration", "14")
    dash_duo.find_element("#att-generate-button").click()
    link = dash_duo.wait_for_element("#att-download-link", timeout=60)
    assert "6 documents ready" in dash_duo.find_element("#att-result").text
    href = link.get_attribute("href")

    client = app.server.test_client()
    sign_in(client, ACCOUNTS["inst1"])
    response = client.get(urlsplit(href).path)
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert "attestation_Marchand_Elodie_S1.pdf" in names and len(names) == 6

    # The learners table: each player's own documents, made with the values just saved.
    dash_duo.find_element(".modal-header .btn-close").click()
    dash_duo.wait_for_element("a[href='/download/attestation/S1/u-elodie/certificate']", timeout=10)
    single = client.get("/download/attestation/S1/u-elodie/certificate")
    assert single.status_code == 200 and single.data.startswith(b"%PDF")

    # Opening the dialog again shows the saved values.
    dash_duo.find_element("#att-open-button").click()
    WebDriverWait(dash_duo.driver, 10).until(
        lambda d: d.find_element(By.ID, "att-siret").get_attribute("value") == "12345678900012"
    )
    assert dash_duo.find_element("#att-duration").get_attribute("value") == "14"
    dash_duo.wait_for_element("#att-logo-preview img")
    assert dash_duo.get_logs() == []


def test_att_b002_a_second_job_of_the_same_user_is_refused_with_a_sentence(dash_duo, make_app, tmp_path):
    """Issue 23 point 5 in the browser: with one job of theirs still counted, an instructor's
    Generate says why nothing starts; the dialog says whose values are kept."""
    from exports.attestation_options import save_defaults
    from jobs.slots import admit
    from tests.integration.exports.test_attestations import OPTIONS

    app = make_app(jobs_per_user=1)
    with app.server.extensions["learnstats_db"].session() as s:
        build_world(Factory(s))
        save_defaults(s, OPTIONS)
        s.commit()
    admit(app.server, "inst1", "a-job-still-running")

    dash_duo.start_server(app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/login?next=/session/S1")
    submit_sign_in(dash_duo, ACCOUNTS["inst1"], PASSWORD)
    WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == "/session/S1")
    dash_duo.find_element("#att-open-button").click()
    dash_duo.wait_for_text_to_equal("#att-org-name", OPTIONS.org_name, timeout=10)
    text = dash_duo.driver.find_element(By.CSS_SELECTOR, ".modal-footer").text
    assert "The values are kept for this session" in text
    dash_duo.find_element("#att-generate-button").click()
    dash_duo.wait_for_contains_text(
        "#att-message", "you already have 1 job running; wait until it ends", timeout=10
    )
    assert "Nothing was generated" in dash_duo.find_element("#att-message").text
    dash_duo.driver.save_screenshot(str(tmp_path / "att-refused.png"))
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#att-download-link")
