"""OPCO attestations d'assiduité and certificats de réalisation (SPEC §7, issue 9).

The documents are read back with poppler's pdftotext and rendered with pdftoppm; expected
values are computed by hand in tests/attestation_world.py.
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from auth.roles import load_scope
from data.config import settings_of
from data.models import PlatformSetting, StoredImage, User
from data.scope import Forbidden, global_scope
from exports import attestations as att
from exports.attestation_options import (
    AttestationError,
    AttestationOptions,
    check_image,
    load_defaults,
    save_defaults,
    store_image,
)
from tests.attestation_world import build_world
from tests.conftest import sign_in

TZ = ZoneInfo("Europe/Paris")
SIGNED = date(2026, 11, 30)
OPTIONS = AttestationOptions(
    org_name="Formations Œuvre & Compétences SARL",
    address="12 rue de l'Église\n69002 Lyon",
    legal_representative="Hélène Dupré",
    nda="84 69 12345 69",
    siret="12345678900012",
    place="Lyon",
    duration_hours=14,
    footer="Organisme « Qualiopi » — capital 10 000 €",
    employer_field="Employeur",
)


def png(width=120, height=60, color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_text(data: bytes, tmp_path: Path, layout: bool = False) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def flat(text: str) -> str:
    """Whitespace runs as one space: sentences that wrap read as one line."""
    return re.sub(r"\s+", " ", text).strip()


def pages(text: str) -> list[str]:
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


@pytest.fixture
def world(factory):
    return build_world(factory)


def _document(db, kind: str, user_id: str, options=OPTIONS, scope=None) -> bytes:
    with db.session() as s:
        docs = list(
            att.session_documents(
                s,
                scope or global_scope(),
                "S1",
                options,
                TZ,
                signed_on=SIGNED,
                user_ids=[user_id],
                kinds=[kind],
            )
        )
    assert len(docs) == 1
    return docs[0][1]


def test_att001_attestation_holds_every_element_of_spec_7(world, db, tmp_path):
    data = _document(db, "attestation", "u-elodie")
    text = flat(pdf_text(data, tmp_path, layout=True))
    for expected in (
        # organisation block
        "Formations Œuvre & Compétences SARL",
        "12 rue de l'Église",
        "69002 Lyon",
        "Représentant légal : Hélène Dupré",
        "Déclaration d'activité n° 84 69 12345 69",
        "SIRET : 123 456 789 00012",
        "ATTESTATION D'ASSIDUITÉ",
        # learner, training, session with its dates, declared duration
        "Apprenant(e) : Élodie Marchand",
        "elodie.marchand@example.org",
        "Entreprise : Boulangerie Œuvre & Fils",
        "Formation : Sécurité incendie",
        "Session : Sécurité incendie — automne (S1)",
        "du 20/10/2026 au 30/10/2026",
        "14 h 00",
        # each course and assessment: type, status, score, time spent in the session
        "Consignes générales Cours Réussi 100,0 % 1 h 15",
        "Évaluation finale Évaluation Échoué 40,0 % 1 h 51",
        # every connection of the session, in the OPCO logs' formats
        "Consignes générales 21/10/2026 23:30 22/10/2026 00:45 00:01:15",
        "Évaluation finale 25/10/2026 02:10 25/10/2026 02:40 00:01:30",
        "Évaluation finale 26/10/2026 10:00 26/10/2026 10:20 00:00:21",
        # totals, place and date, footer, page numbers
        "Temps total passé dans la session : 3 h 06",
        "Score de la formation : 70,0 %",
        "Fait à Lyon, le 30/11/2026",
        "Cachet et signature",
        "Organisme « Qualiopi » — capital 10 000 €",
        "Page 1 / ",
    ):
        assert expected in text, expected
    # Connections outside the session and other sessions' are not on it.
    assert "22/10/2026 10:00" not in text
    assert "23/10/2026 10:00" not in text
    assert text.count("/10/2026") == 3 * 2 + 2  # 3 connections (2 dates each) + the session's dates


def test_att002_certificat_follows_the_ministry_model_wording(world, db, tmp_path):
    text = flat(pdf_text(_document(db, "certificate", "u-elodie"), tmp_path))
    expected = [
        "CERTIFICAT DE RÉALISATION",
        "Je soussigné(e) Hélène Dupré, représentant légal du dispensateur de l'action concourant au"
        " développement des compétences Formations Œuvre & Compétences SARL,",
        "atteste que :",
        "Élodie Marchand, salarié(e) de l'entreprise Boulangerie Œuvre & Fils,",
        "a suivi l'action Sécurité incendie",
        "Nature de l'action concourant au développement des compétences :",
        "☒ action de formation",
        "☐ bilan de compétences",
        "☐ action de VAE",
        "☐ action de formation par apprentissage",
        "qui s'est déroulée du 20/10/2026 au 30/10/2026",
        "pour une durée réalisée de 3 h 06",
        "pendant une durée de 3 ans",
        "Fait à Lyon, le 30/11/2026",
        "Cachet et signature du responsable du dispensateur de l'action",
    ]
    positions = [text.find(e) for e in expected]
    assert -1 not in positions, [e for e, p in zip(expected, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "the model's order"


def test_att003_certificat_ticks_the_chosen_nature_and_leaves_an_empty_employer_line(world, db, tmp_path):
    options = replace(OPTIONS, nature="vae", employer_field="")
    text = flat(pdf_text(_document(db, "certificate", "u-zoe", options), tmp_path))
    assert "☐ action de formation ☐ bilan de compétences ☒ action de VAE ☐ action de formation" in text
    assert "Zoé Blocquée, salarié(e) de l'entreprise ________________________," in text
    assert "pour une durée réalisée de 0 h 30" in text


def test_att004_session_without_dates_uses_the_learners_first_and_last_connection(world, db, tmp_path):
    from data.models import ProgramSession

    with db.session() as s:
        program = s.get(ProgramSession, "S1")
        program.starts_at = None
        program.ends_at = None
        s.commit()
    text = flat(pdf_text(_document(db, "certificate", "u-elodie"), tmp_path))
    assert "qui s'est déroulée du 21/10/2026 au 26/10/2026" in text


def test_att005_long_log_continues_over_pages_with_the_header_repeated(world, db, tmp_path):
    data = _document(db, "attestation", "u-paul")
    text = pdf_text(data, tmp_path, layout=True)
    sheets = pages(text)
    assert len(sheets) >= 5
    total = len(sheets)
    for number, sheet in enumerate(sheets, start=1):
        assert f"Page {number} / {total}" in flat(sheet)
        if number > 1 and "00:00:10" in sheet:
            assert "Cours Connexion Déconnexion Temps passé" in flat(sheet), f"page {number}"
    assert flat(text).count("Consignes générales 2") == 300  # every connection line
    assert "Temps total passé dans la session : 50 h 00" in flat(text)
    assert "Fait à Lyon, le 30/11/2026" in flat(sheets[-1])
    (tmp_path / "paul.pdf").write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-r", "20", "-png", str(tmp_path / "paul.pdf"), str(tmp_path / "p")], check=True
    )
    assert len(list(tmp_path.glob("p-*.png"))) == total


def test_att006_same_inputs_same_bytes_and_the_date_changes_them(world, db):
    first = _document(db, "attestation", "u-elodie")
    assert first == _document(db, "attestation", "u-elodie")
    assert b"/CreationDate (D:20261130" in first
    with db.session() as s:
        (_, later), *_ = list(
            att.session_documents(
                s,
                global_scope(),
                "S1",
                OPTIONS,
                TZ,
                signed_on=date(2026, 12, 1),
                user_ids=["u-elodie"],
                kinds=["attestation"],
            )
        )
    assert later != first


def test_att007_parsed_fonts_give_the_bytes_of_fpdf_add_font(world, db, monkeypatch):
    """The per-process font cache relies on fpdf2's TTFFont copy: it must not change a byte."""
    cached = _document(db, "attestation", "u-elodie")
    monkeypatch.setattr(
        att, "_add_parsed_font", lambda pdf, family, style, path: pdf.add_font(family, style, str(path))
    )
    assert _document(db, "attestation", "u-elodie") == cached


def test_att008_zip_names_players_only_blocked_included_and_reproducible(world, db, tmp_path):
    with db.session() as s:
        data = att.zip_bytes(s, global_scope(), "S1", OPTIONS, TZ, signed_on=SIGNED)
        again = att.zip_bytes(s, global_scope(), "S1", OPTIONS, TZ, signed_on=SIGNED)
    assert data == again
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == [
        "attestation_Blocquee_Zoe_S1.pdf",
        "certificat_Blocquee_Zoe_S1.pdf",
        "attestation_Lourd_Paul_S1.pdf",
        "certificat_Lourd_Paul_S1.pdf",
        "attestation_Marchand_Elodie_S1.pdf",
        "certificat_Marchand_Elodie_S1.pdf",
    ]
    with db.session() as s:
        only = att.zip_bytes(
            s, global_scope(), "S1", replace(OPTIONS, kind="certificate"), TZ, signed_on=SIGNED
        )
    assert [n.split("_")[0] for n in zipfile.ZipFile(io.BytesIO(only)).namelist()] == ["certificat"] * 3


def test_att009_english_documents(world, db, tmp_path):
    options = replace(OPTIONS, language="en")
    text = flat(pdf_text(_document(db, "attestation", "u-elodie", options), tmp_path, layout=True))
    for expected in (
        "CERTIFICATE OF ATTENDANCE",
        "Learner: Élodie Marchand",
        "Évaluation finale Assessment Failed 40.0 % 1 h 51",
        "Total time spent in the session: 3 h 06",
        "Signed at Lyon on 30/11/2026",
    ):
        assert expected in text, expected
    text = flat(pdf_text(_document(db, "certificate", "u-elodie", options), tmp_path))
    assert "CERTIFICATE OF COMPLETION" in text and "☒ training action" in text


def test_att010_names_outside_the_latin_subset_use_the_whole_font(world, db, tmp_path):
    with db.session() as s:
        s.get(User, "u-zoe").first_name = "Дмитрий Ἀλέξανδρος"
        s.commit()
    text = flat(pdf_text(_document(db, "attestation", "u-zoe"), tmp_path))
    assert "Дмитрий Ἀλέξανδρος Blocquée" in text


def test_att011_images_are_printed_in_proportion(world, db, tmp_path):
    with db.session() as s:
        logo = store_image(s, png(400, 100), "logo")
        stamp = store_image(s, png(300, 300, (30, 30, 200)), "stamp")
        s.commit()
    data = _document(db, "attestation", "u-elodie", replace(OPTIONS, logo=logo, stamp=stamp))
    path = tmp_path / "img.pdf"
    path.write_bytes(data)
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    sizes = [(int(r.split()[3]), int(r.split()[4])) for r in listing.splitlines()[2:]]
    assert sorted(sizes) == [(300, 300), (400, 100)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration_hours": None}, "declared duration of the training sessions is required"),
        ({"duration_hours": 0}, "must be more than 0 hours"),
        ({"duration_hours": -2.5}, "must be more than 0 hours"),
        ({"siret": "1234567890001"}, "a SIRET is 14 digits"),
        ({"siret": "1234567890001A"}, "a SIRET is 14 digits"),
        ({"org_name": " "}, "name is required"),
        ({"legal_representative": ""}, "legal representative is required"),
        ({"language": "de"}, "language 'de'"),
    ],
)
def test_att012_bad_options_are_refused_with_a_sentence(world, db, tmp_path, changes, message):
    folder = tmp_path / "out"
    folder.mkdir()
    with db.session() as s, pytest.raises(AttestationError, match=re.escape(message)):
        att.write_session_zip(s, global_scope(), "S1", replace(OPTIONS, **changes), TZ, folder / "out.zip")
    assert list(folder.iterdir()) == []


def test_att013_options_read_a_french_decimal_and_spaced_siret():
    options = AttestationOptions.from_dict({"duration_hours": "7,5", "siret": "123 456 789 00012"})
    assert options.duration_hours == 7.5 and options.siret == "12345678900012"
    with pytest.raises(AttestationError, match="not a number of hours"):
        AttestationOptions.from_dict({"duration_hours": "sept"})


def test_att014_bad_images_are_refused(tmp_path):
    with pytest.raises(AttestationError, match="not a PNG or JPEG image"):
        check_image(b"GIF89a" + b"\0" * 40, "logo")
    with pytest.raises(AttestationError, match="corrupt or truncated"):
        check_image(png()[:60], "logo")
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024)
    with pytest.raises(AttestationError, match="images must be at most 2 MB"):
        check_image(big, "stamp")
    jpeg = io.BytesIO()
    Image.new("RGB", (10, 10)).save(jpeg, format="JPEG")
    assert check_image(jpeg.getvalue(), "logo") == "jpeg"


def test_att015_a_session_nobody_played_and_a_non_player_are_errors(world, db, tmp_path):
    with db.session() as s:
        with pytest.raises(AttestationError, match="nobody played session S3"):
            att.write_session_zip(s, global_scope(), "S3", OPTIONS, TZ, tmp_path / "x.zip")
        with pytest.raises(AttestationError, match="did not play session S1: u-nina"):
            list(att.session_documents(s, global_scope(), "S1", OPTIONS, TZ, user_ids=["u-nina"]))
    assert not (tmp_path / "x.zip").exists()


def test_att016_scope_instructor_of_another_session_class_manager_and_learner_are_refused(world, db):
    with db.session() as s:
        assert att.session_players(s, load_scope(s, "inst1"), "S1") == ["u-zoe", "u-paul", "u-elodie"]
        for user in ("inst2", "cm", "u-elodie"):
            with pytest.raises(Forbidden):
                att.gather(s, load_scope(s, user), "S1")
        with pytest.raises(Forbidden):  # an unknown id answers as an out-of-scope one
            att.gather(s, load_scope(s, "inst2"), "nope")


def test_att017_per_learner_route_uses_the_saved_defaults_and_checks_scope(world, db, client):
    sign_in(client, "inst1@example.org")
    missing = client.get("/download/attestation/S1/u-elodie/attestation")
    assert missing.status_code == 400 and "not complete" in missing.get_data(as_text=True)
    with db.session() as s:
        save_defaults(s, OPTIONS)
        s.commit()
    ok = client.get("/download/attestation/S1/u-elodie/certificate")
    assert ok.status_code == 200 and ok.mimetype == "application/pdf"
    assert 'filename="certificat_Marchand_Elodie_S1.pdf"' in ok.headers["Content-Disposition"]
    assert ok.data.startswith(b"%PDF")
    assert client.get("/download/attestation/S1/u-nina/certificate").status_code == 400
    other = client.application.test_client()
    sign_in(other, "inst2@example.org")
    assert other.get("/download/attestation/S1/u-elodie/certificate").status_code == 403
    assert other.get("/download/attestation/S2/u-elodie/certificate").status_code == 200
    assert other.get("/download/attestation/S1/u-elodie/other").status_code == 404


def _dialog_values(**changes):
    values = {
        "org_name": OPTIONS.org_name,
        "address": OPTIONS.address,
        "legal_representative": OPTIONS.legal_representative,
        "nda": OPTIONS.nda,
        "siret": OPTIONS.siret,
        "place": OPTIONS.place,
        "footer": OPTIONS.footer,
        "duration": "14",
        "language": "fr",
        "kind": "both",
        "nature": "formation",
        "employer_field": "Employeur",
        "logo": None,
        "stamp": None,
    }
    values.update(changes)
    return list(values.values())


def test_att018_dialog_saves_the_sessions_values_and_the_background_job_writes_a_complete_zip(
    world, db, server
):
    from dashboards.dialogs import attestations as dialog
    from tests.helpers import signed_in

    with signed_in(server, "inst1"):
        ticket, message, _ = dialog.generate_attestations(1, "S1", *_dialog_values(siret="123"))
        assert ticket is None and "a SIRET is 14 digits" in str(message)
        with db.session() as s:
            assert s.get(PlatformSetting, "opco_attestations") is None  # nothing saved
        ticket, message, _ = dialog.generate_attestations(1, "S1", *_dialog_values())
        assert message is None and ticket["token"]
    with db.session() as s:
        saved = load_defaults(s, "S1")
        assert s.get(PlatformSetting, "opco_attestations") is None  # an instructor's: S1's only
    assert (
        saved.org_name == OPTIONS.org_name
        and saved.duration_hours == 14
        and saved.employer_field == "Employeur"
    )
    progress = []
    result = dialog.run_attestation_job(progress.append, ticket)
    assert result["state"] == "done" and result["count"] == 6, result
    assert progress[0] == (0, "Preparing…") and progress[-1] == (100.0, "6 / 6")
    owner = server.test_client()
    sign_in(owner, "inst1@example.org")
    response = owner.get(result["href"])
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(response.data)).namelist()) == 6
    stranger = server.test_client()
    sign_in(stranger, "stat@example.org")
    assert stranger.get(result["href"]).status_code == 403
    leftovers = [p.name for p in (Path(settings_of(server).instance_path) / "exports").iterdir()]
    assert not [n for n in leftovers if n.endswith(".part")]


def test_att019_forged_generate_callback_for_another_session_answers_403(world, dash_app, client):
    from tests.learner_world import post_callback

    sign_in(client, "inst2@example.org")
    states = [("att-session", "data", "S1")] + [
        (component, prop, value)
        for (component, prop), value in zip(dialog_states(), _dialog_values(), strict=True)
    ]
    response = post_callback(
        client,
        dash_app,
        [("att-ticket", "data"), ("att-message", "children"), ("att-result", "children")],
        [("att-generate-button", "n_clicks", 1)],
        states,
    )
    assert response.status_code == 403


def dialog_states():
    from dashboards.dialogs.attestations import _VALUE_STATES

    return list(_VALUE_STATES)


def test_att020_upload_callback_checks_and_stores_images(world, db, server):
    import base64

    from dashboards.dialogs import attestations as dialog
    from tests.helpers import signed_in

    good = "data:image/png;base64," + base64.b64encode(png()).decode()
    bad = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
    with signed_in(server, "inst1"):
        digest, _preview, message = dialog.upload_image(good, "logo.png", "S1", "logo")
        assert message is None and len(digest) == 64
        _, _, message = dialog.upload_image(bad, "evil.png", "S1", "logo")
        assert "Logo (evil.png): not a PNG or JPEG image." in str(message)
        huge = "data:image/png;base64," + base64.b64encode(png()[:8] + b"\0" * (2 * 1024 * 1024)).decode()
        digest_before = digest
        kept, _, message = dialog.upload_image(huge, "big.png", "S1", "stamp")
        assert "Stamp (big.png): the file is over 2 MB" in str(message)
        assert kept is dialog.no_update and digest_before
    with signed_in(server, "inst2"), pytest.raises(Forbidden):
        dialog.upload_image(good, "logo.png", "S1", "logo")
    with db.session() as s:
        assert s.query(StoredImage).count() == 1


def test_att021_command_line_defaults_to_the_saved_values(world, db, server, tmp_path):
    runner = server.test_cli_runner()
    out = tmp_path / "docs.zip"
    refused = runner.invoke(args=["export-attestations", "--session", "S1", "--out", str(out)])
    assert refused.exit_code == 1 and "declared duration" in refused.output and not out.exists()
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    args = [
        "export-attestations", "--session", "S1", "--out", str(out), "--org-name", OPTIONS.org_name,
        "--address", "12 rue de l'Église\\n69002 Lyon", "--legal-representative", "Hélène Dupré",
        "--place", "Lyon", "--duration-hours", "14", "--logo", str(logo), "--kind", "certificate",
        "--signed-on", "2026-11-30", "--save-defaults",
    ]  # fmt: skip
    done = runner.invoke(args=args)
    assert done.exit_code == 0, done.output
    assert "Wrote 3 document(s)" in done.output
    assert len(zipfile.ZipFile(out).namelist()) == 3
    again = tmp_path / "again.zip"
    repeat = runner.invoke(
        args=["export-attestations", "--session", "S1", "--out", str(again), "--signed-on", "2026-11-30"]
    )
    assert repeat.exit_code == 0, repeat.output
    assert again.read_bytes() == out.read_bytes()  # the saved values, the same documents
    bad = runner.invoke(
        args=["export-attestations", "--session", "S1", "--out", str(tmp_path / "b.zip"), "--logo", __file__]
    )
    assert bad.exit_code == 1 and "not a PNG or JPEG image" in bad.output


def test_att022_worker_processes_write_the_same_zip(world, db, monkeypatch):
    with db.session() as s:
        monkeypatch.setattr(att, "PARALLEL_ABOVE", 10**9)
        serial = att.zip_bytes(s, global_scope(), "S1", OPTIONS, TZ, signed_on=SIGNED)
        monkeypatch.setattr(att, "PARALLEL_ABOVE", 0)
        monkeypatch.setattr(att, "CHUNK_LEARNERS", 1)
        monkeypatch.setattr(att, "_workers", lambda: 2)
        progress = []
        parallel = att.zip_bytes(
            s,
            global_scope(),
            "S1",
            OPTIONS,
            TZ,
            signed_on=SIGNED,
            on_progress=lambda d, t: progress.append((d, t)),
        )
    assert parallel == serial
    assert progress == [(2, 6), (4, 6), (6, 6)]


def test_att023_an_instructors_generate_leaves_another_sessions_attestation_unchanged(
    world, db, server, factory, tmp_path
):
    """Issue 23 point 4: Generate saves the values for its session; only an admin's Generate
    also changes the platform's defaults, which every other session's documents use."""
    import base64

    from dashboards.dialogs import attestations as dialog
    from tests.helpers import signed_in

    factory.user("adm", first="Ada", last="Admin", email="adm@example.org", roles=("admin",))
    factory.refresh()
    factory.s.commit()
    with db.session() as s:
        save_defaults(s, OPTIONS)  # the platform's defaults, as an admin or the command line kept them
        s.commit()
    other = server.test_client()
    sign_in(other, "inst2@example.org")
    before = other.get("/download/attestation/S2/u-elodie/attestation")
    assert before.status_code == 200 and before.data.startswith(b"%PDF")
    assert OPTIONS.org_name in flat(pdf_text(before.data, tmp_path))

    intruder = {"org_name": "Intrus Formation SARL", "legal_representative": "Ivan Intrus"}
    stamp = "data:image/png;base64," + base64.b64encode(png(color=(0, 0, 250))).decode()
    with signed_in(server, "inst1"):
        digest, _preview, message = dialog.upload_image(stamp, "tampon.png", "S1", "stamp")
        assert message is None
        ticket, message, _ = dialog.generate_attestations(1, "S1", *_dialog_values(**intruder, stamp=digest))
        assert message is None and ticket["token"]
        reopened = dialog.open_attestation_dialog(1, "S1")
        assert reopened[1] == "Intrus Formation SARL"  # S1's own values, for its next Generate
    done = dialog.run_attestation_job(lambda _p: None, ticket)
    assert done["state"] == "done", done

    after = other.get("/download/attestation/S2/u-elodie/attestation")
    assert after.status_code == 200
    text = flat(pdf_text(after.data, tmp_path))
    assert OPTIONS.org_name in text and "Intrus" not in text
    assert after.data == before.data  # the same document, images included
    with signed_in(server, "inst2"):
        opened = dialog.open_attestation_dialog(1, "S2")
        assert opened[1] == OPTIONS.org_name and opened[3] == OPTIONS.legal_representative
        assert opened[15] is None  # no stamp: not the instructor's
        ticket, message, _ = dialog.generate_attestations(1, "S2", *_dialog_values())
    result = dialog.run_attestation_job(lambda _p: None, ticket)
    assert result["state"] == "done", result
    response = other.get(result["href"])
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        name = next(n for n in archive.namelist() if n.startswith("attestation"))
        text = flat(pdf_text(archive.read(name), tmp_path))
    assert OPTIONS.org_name in text and "Intrus" not in text
    with db.session() as s:
        assert load_defaults(s) == OPTIONS  # the platform's defaults untouched

    # An admin's Generate keeps its values as the platform's defaults too: a session without
    # values of its own (S3) opens with them; S2 keeps the values of its last Generate.
    with signed_in(server, "adm"):
        ticket, message, _ = dialog.generate_attestations(1, "S1", *_dialog_values(place="Grenoble"))
        assert message is None
        assert dialog.open_attestation_dialog(1, "S3")[6] == "Grenoble"
        assert dialog.open_attestation_dialog(1, "S2")[6] == OPTIONS.place
    with db.session() as s:
        assert load_defaults(s).place == "Grenoble"
    assert other.get("/download/attestation/S2/u-elodie/attestation").data == before.data


def test_att024_the_zip_as_a_scheduled_report_with_the_sessions_saved_values(world, db):
    """ "Schedule…" beside Generate (issue 18): the report kind "attestations" builds the ZIP
    with the values kept for the session (its last Generate), in the recipient's scope, signed
    on the run's day — the same bytes as the dialog's ZIP; before any Generate it fails saying
    what is missing; refused to an instructor of another session and for an unknown session."""
    from datetime import UTC, datetime

    from data.models import User
    from exports.report_kinds import ReportKindError, ReportRun, build_report, report_kind

    run = ReportRun(tz=TZ, now=datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    with db.session() as s:
        inst1 = s.get(User, "inst1")
        with pytest.raises(ReportKindError, match="required"):
            build_report(s, "attestations", inst1, load_scope(s, "inst1"), {"session_id": "S1"}, run, "fr")
        save_defaults(s, replace(OPTIONS, kind="certificate"), "inst1", session_id="S1")
        s.commit()
        data, built = build_report(
            s, "attestations", inst1, load_scope(s, "inst1"), {"session_id": "S1"}, run, "fr"
        )
        assert built.file_name == "attestations_S1_2026-11-30.zip" and built.rows == 3
        assert built.media_type == "application/zip" and report_kind("attestations").own_format
        expected = att.zip_bytes(
            s, load_scope(s, "inst1"), "S1", replace(OPTIONS, kind="certificate"), TZ, signed_on=SIGNED
        )
        assert data == expected
        for session_id in ("S1", "nope"):
            with pytest.raises(Forbidden):
                report_kind("attestations").check(s, load_scope(s, "inst2"), {"session_id": session_id})
        with pytest.raises(Forbidden):
            report_kind("attestations").check(s, load_scope(s, "cm"), {"session_id": "S1"})


def test_att025_the_dialog_offers_schedule_beside_generate(world, server):
    import json

    from plotly.utils import PlotlyJSONEncoder

    from dashboards.dialogs.attestations import build_attestation_dialog

    with server.test_request_context("/session/S1"):
        text = json.dumps(build_attestation_dialog("S1").to_plotly_json(), cls=PlotlyJSONEncoder)
    spec = '{"kind": "attestations", "params": {"session_id": "S1"}, "title": "OPCO attestations"}'
    assert spec in text and text.index("schedule-open") < text.index("att-generate-button")


def _generate_button(component):
    """The Generate button inside a layout (None when absent)."""
    if getattr(component, "id", None) == "att-generate-button":
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _generate_button(child)
            if found is not None:
                return found
    return None


def test_att026_generate_is_not_offered_on_a_session_nobody_played(world, server):
    """Issue 21: S3 has no connection: its dialog says so and Generate is hidden and disabled;
    S1, played, offers it as before."""
    import json

    from plotly.utils import PlotlyJSONEncoder

    from dashboards.dialogs.attestations import build_attestation_controls

    with server.test_request_context("/session/S3"):
        empty = build_attestation_controls(global_scope(), "S3")
        played = build_attestation_controls(global_scope(), "S1")
        empty_text = json.dumps(empty[0].to_plotly_json(), cls=PlotlyJSONEncoder)
        played_text = json.dumps(played[0].to_plotly_json(), cls=PlotlyJSONEncoder)
    hidden = _generate_button(empty[0])
    assert hidden is not None and hidden.disabled is True and "d-none" in hidden.className
    assert "att-nobody-played" in empty_text and "there is no attestation to generate" in empty_text
    shown = _generate_button(played[0])
    assert shown is not None and not shown.disabled and not shown.className
    assert "att-nobody-played" not in played_text
