"""Relevé individuel d'activité (SPEC §10, issue 19 point 2): one PDF per learner of a session,
in a ZIP, read back with pdftotext.

The world is tests/attestation_world.py's (see its docstring and tests/integration/exports/
test_attendance.py's for the half-days computed by hand), plus two tutor contacts of Élodie and
an unfinished attempt of Paul at the evaluation. Élodie, by hand (Paris time):
  Consignes générales: passed, 100 %, progress 100 %, 1 h 15 in S1, first access 21/10/2026 23:30,
    last 22/10/2026 00:45 (its attempt 23:30 -> 00:45, its connection the same)
  Évaluation finale: failed 40 % (4 / 10 < 50), progress 100 %, 1 h 30 + 20 min 40 s -> 1 h 51,
    first access 25/10/2026 02:10 (connection), last 26/10/2026 10:20 (the connection ends
    10:20:40; the attempt at 10:20)
  evaluation attempts: Évaluation finale 26/10/2026 10:20 40,0 % Échoué (the course has no
    scored activity: not an evaluation)
  half-days: 21/10 après-midi 23:30-24:00 0 h 30 (day 0 h 30); 22/10 matin 00:00-00:45 0 h 45;
    25/10 matin 02:10-02:40 1 h 30 (the autumn change: 90 minutes lived); 26/10 matin 10:00-10:20 0 h 21
  total 3 h 06; training progress 2 / 2 = 100 %, training score (100 + 40) / 2 = 70,0 %
"""

from __future__ import annotations

import io
import zipfile

import pytest

from auth.roles import load_scope
from data import models as m
from data.scope import Forbidden, global_scope
from exports.activity_records import write_records_zip
from exports.attestation_options import save_defaults
from tests.attestation_world import build_world
from tests.factories import utc
from tests.integration.exports.test_attestations import OPTIONS, SIGNED, TZ, pdf_text
from tests.integration.exports.test_attestations import flat as flat_text

NAMES = [
    "releve_Absente_Nina_S1.pdf",
    "releve_Blocquee_Zoe_S1.pdf",
    "releve_Lourd_Paul_S1.pdf",
    "releve_Marchand_Elodie_S1.pdf",
]


def flat(text: str) -> str:
    """Whitespace runs as one space, none before the percent sign: pdftotext reads a "0 %" cell
    without its space (its spacing guess) and "100 %" with it."""
    return flat_text(text).replace(" %", "%")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dash_app(request, make_app):
    """Each test on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("pg_migrated_db_url"))
    return make_app()


@pytest.fixture
def world(factory):
    build_world(factory)
    s = factory.s
    s.add_all(
        [
            m.TutorContact(
                user_id="u-elodie", session_id="S1", contacted_at=utc("2026-10-22 12:30"), tutor="Inès Prof",
                channel="phone", duration_minutes=20, subject="Relance « évaluation finale »",
            ),
            m.TutorContact(
                user_id="u-elodie", session_id="S1", contacted_at=utc("2026-10-27 08:00"), tutor="Inès Prof",
                channel="visio", duration_minutes=None, subject="",
            ),
            # Another session's contact is not on S1's relevé.
            m.TutorContact(
                user_id="u-elodie", session_id="S2", contacted_at=utc("2026-10-23 08:00"), tutor="Autre Tuteur",
                channel="email", duration_minutes=5, subject="Hors session",
            ),
        ]
    )  # fmt: skip
    training = s.get(m.Training, "T1")
    paul = s.get(m.User, "u-paul")
    exam = s.get(m.Module, "m-eval")
    factory.attempt(paul, training, exam, started="2026-10-24 09:00")
    s.commit()


def records(db, language="fr", scope=None) -> dict[str, bytes]:
    target = io.BytesIO()
    with db.session() as s:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "r.zip"
            count = write_records_zip(
                s,
                scope or global_scope(),
                "S1",
                OPTIONS.merged(language=language),
                TZ,
                path,
                signed_on=SIGNED,
            )
            target.write(path.read_bytes())
    archive = zipfile.ZipFile(target)
    assert count == len(archive.namelist())
    return {name: archive.read(name) for name in archive.namelist()}


def test_rel001_one_pdf_per_learner_of_the_session(world, db):
    assert list(records(db)) == NAMES  # blocked Zoé and Nina (registered, never connected) too


def test_rel002_elodie_holds_every_element_of_spec_10(world, db, tmp_path):
    text = flat(pdf_text(records(db)["releve_Marchand_Elodie_S1.pdf"], tmp_path, layout=True))
    for expected in (
        "Formations Œuvre & Compétences SARL",
        "Représentant légal : Hélène Dupré",
        "SIRET : 123 456 789 00012",
        "RELEVÉ INDIVIDUEL D'ACTIVITÉ",
        "Apprenant(e) : Élodie Marchand",
        "elodie.marchand@example.org",
        "Formation : Sécurité incendie",
        "Session : Sécurité incendie — automne (S1)",
        "du 20/10/2026 au 30/10/2026",
        "Durée déclarée des sessions de formation : 14 h 00",
        "Progression dans la formation : 100%",
        "Score de la formation : 70,0%",
        # per module: status, score, progress, time spent, first and last access
        # (first and last access: the date on one line, the time below)
        "Consignes générales Réussi 100,0% 100% 1 h 15 21/10/2026 22/10/2026 23:30 00:45",
        "Évaluation finale Échoué 40,0% 100% 1 h 51 25/10/2026 26/10/2026 02:10 10:20",
        # every evaluation attempt
        "Évaluation finale 26/10/2026 10:20 40,0% Échoué",
        # connections by half-day, each day's total
        "21/10/2026 Après-midi 23:30 24:00 0 h 30 21/10/2026 Total de la journée 0 h 30",
        "22/10/2026 Matin 00:00 00:45 0 h 45 22/10/2026 Total de la journée 0 h 45",
        "25/10/2026 Matin 02:10 02:40 1 h 30 25/10/2026 Total de la journée 1 h 30",
        "26/10/2026 Matin 10:00 10:20 0 h 21 26/10/2026 Total de la journée 0 h 21",
        # the tutor contacts (Paris time), then the session's total, place, date, stamp
        "22/10/2026 14:30 Inès Prof téléphone 0 h 20 Relance « évaluation finale »",
        "27/10/2026 09:00 Inès Prof visioconférence – –",
        "Temps total passé dans la session : 3 h 06",
        "Fait à Lyon, le 30/11/2026",
        "Cachet et signature",
        "Organisme « Qualiopi » — capital 10 000 €",
    ):
        assert expected in text, expected
    assert "Hors session" not in text and "Autre Tuteur" not in text
    assert "Consignes générales 21/10" not in text  # the course is no evaluation


def test_rel003_without_activity_and_in_progress(world, db, tmp_path):
    docs = records(db)
    nina = flat(pdf_text(docs["releve_Absente_Nina_S1.pdf"], tmp_path, layout=True))
    for expected in (
        "Consignes générales Non commencé – 0% 0 h 00 – –",
        "Aucune tentative d'évaluation.",
        "Aucune connexion dans cette session.",
        "Aucun contact tutoral enregistré.",
        "Temps total passé dans la session : 0 h 00",
    ):
        assert expected in nina, expected
    paul = flat(pdf_text(docs["releve_Lourd_Paul_S1.pdf"], tmp_path, layout=True))
    assert "Évaluation finale En cours – 0% 0 h 00 24/10/2026 24/10/2026 11:00 11:00" in paul
    assert "Évaluation finale 24/10/2026 11:00 – En cours" in paul
    assert "24/10/2026 Après-midi 13:00 13:50 0 h 30" in paul
    assert "Temps total passé dans la session : 50 h 00" in paul


def test_rel004_english(world, db, tmp_path):
    text = flat(pdf_text(records(db, "en")["releve_Marchand_Elodie_S1.pdf"], tmp_path, layout=True))
    for expected in (
        "INDIVIDUAL ACTIVITY RECORD",
        "21/10/2026 Afternoon 23:30 24:00 0 h 30",
        "Total of the day",
        "Inès Prof phone 0 h 20",
        "Signed at Lyon on 30/11/2026",
    ):
        assert expected in text, expected


def test_rel005_scope(world, db):
    with db.session() as s:
        inst1, inst2, cm = (load_scope(s, u) for u in ("inst1", "inst2", "cm"))
    assert list(records(db, scope=inst1)) == NAMES
    for scope in (inst2, cm):
        with pytest.raises(Forbidden):
            records(db, scope=scope)


def test_rel006_command_line(world, db, server, tmp_path):
    runner = server.test_cli_runner()
    out = tmp_path / "releves.zip"
    args = ["export-activity-records", "--session", "S1", "--out", str(out), "--signed-on", "2026-11-30"]
    refused = runner.invoke(args=args)
    assert refused.exit_code == 1 and "not complete" in refused.output and not out.exists()
    with db.session() as s:
        save_defaults(s, OPTIONS)
        s.commit()
    done = runner.invoke(args=args)
    assert done.exit_code == 0, done.output
    assert "4 activity record(s)" in done.output
    assert zipfile.ZipFile(out).namelist() == NAMES
    unknown = runner.invoke(args=[*args[:2], "S9", *args[3:]])
    assert unknown.exit_code == 1 and "S9" in unknown.output
