"""A session instructor uses the compliance dialogs in a real browser (issue 19 points 1-3):
records a tutor contact, generates the relevés d'activité (background job, progress bar, signed
link) and finds the contact in the learner's relevé."""

from __future__ import annotations

import io
import subprocess
import zipfile
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from data import models as m
from exports.attestation_options import save_defaults
from tests.attestation_world import ACCOUNTS, PASSWORD, build_world
from tests.browser.test_shell import submit_sign_in
from tests.conftest import sign_in
from tests.factories import Factory
from tests.integration.exports.test_attestations import OPTIONS


def test_cmp_b001_tutor_contact_then_activity_records(dash_duo, make_app, tmp_path):
    app = make_app()
    db = app.server.extensions["learnstats_db"]
    with db.session() as s:
        build_world(Factory(s))
        save_defaults(s, OPTIONS)
        s.commit()

    dash_duo.start_server(app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/login?next=/session/S1")
    submit_sign_in(dash_duo, ACCOUNTS["inst1"], PASSWORD)
    WebDriverWait(dash_duo.driver, 10).until(lambda d: urlsplit(d.current_url).path == "/session/S1")
    dash_duo.wait_for_text_to_equal("#session-title", "Sécurité incendie — automne")

    # A tutor contact for Élodie.
    dash_duo.find_element("#tc-open-button").click()
    dash_duo.wait_for_element("#tc-learner option[value='u-elodie']", timeout=10)
    Select(dash_duo.driver.find_element(By.ID, "tc-learner")).select_by_value("u-elodie")
    Select(dash_duo.driver.find_element(By.ID, "tc-channel")).select_by_value("visio")
    dash_duo.driver.execute_script(
        "var e = document.getElementById('tc-when');"
        "var set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
        "set.call(e, '2026-10-22T14:30'); e.dispatchEvent(new Event('input', {bubbles: true}));"
    )
    dash_duo.find_element("#tc-duration").send_keys("25")
    dash_duo.find_element("#tc-subject").send_keys("Point d'étape")
    dash_duo.find_element("#tc-save-button").click()
    dash_duo.wait_for_contains_text("#tc-message", "Élodie Marchand", timeout=10)
    with db.session() as s:
        (contact,) = s.scalars(select(m.TutorContact)).all()
        assert (contact.user_id, contact.channel, contact.duration_minutes, contact.tutor) == (
            "u-elodie", "visio", 25, "Inès Prof",
        )  # fmt: skip
    dash_duo.find_element("#tc-dialog .btn-close").click()

    # The relevés: a background job, then a link for this user.
    dash_duo.find_element("#cmp-open-button").click()
    dash_duo.wait_for_element("#cmp-records-button").click()
    link = dash_duo.wait_for_element("#cmp-download-link", timeout=90)
    assert "4" in dash_duo.find_element("#cmp-result").text
    client = app.server.test_client()
    sign_in(client, ACCOUNTS["inst1"])
    response = client.get(urlsplit(link.get_attribute("href")).path)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert len(archive.namelist()) == 4
    pdf = tmp_path / "releve.pdf"
    pdf.write_bytes(archive.read("releve_Marchand_Elodie_S1.pdf"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Point d'étape" in text and "visioconférence" in text and "0 h 25" in text
    assert dash_duo.get_logs() == []
