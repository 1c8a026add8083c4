"""A small platform for the OPCO attestations and certificats de réalisation (SPEC §7).

Times are UTC; Paris is UTC+2 until 25 October 2026 01:00 UTC (03:00 CEST becomes 02:00 CET),
UTC+1 after. Session S1 (training "Sécurité incendie", 20/10/2026 10:00 → 30/10/2026 18:00 local):

  Élodie Marchand (employer "Boulangerie Œuvre & Fils", field "Employeur")
    S1  Consignes générales  21/10 23:30 → 22/10 00:45 local (across midnight)   1 h 15   00:01:15
    S1  Évaluation finale    25/10 02:10 CEST → 02:40 CET (across the DST change) 1 h 30  00:01:30
    S1  Évaluation finale    26/10 10:00:00 → 10:20:40                           20 min 40 s  00:00:21
    --  Consignes générales  22/10 10:00 → 11:00, outside any session: not on the documents
    S2  Consignes générales  23/10 10:00 → 10:30, another session: not on the documents
    modules: Consignes générales (course: no scored activity) passed 100 %, time in S1 1 h 15;
             Évaluation finale (assessment, min 50) failed 40 %, time in S1 1 h 30 + 20:40 = 1 h 51
    total in S1: 75 + 90 + 20 min 40 s = 185 min 40 s -> "3 h 06"; training score (100 + 40) / 2 = 70
  Zoé Blocquée (blocked)  S1  Consignes générales 20/10 10:00 → 10:30   total "0 h 30", score 0
  Paul Lourd  300 connections of 10 min in S1 from 20/10 10:00, one every 20 min: "50 h 00"
  Nina Absente  registered to S1, no connection: no document
Session S3 (same training): nobody played it.
"""

from __future__ import annotations

from datetime import timedelta

from tests.factories import utc

PASSWORD = "password123"
ACCOUNTS = {
    "stat": "stat@example.org",  # statistics_manager
    "inst1": "inst1@example.org",  # session_instructor of S1
    "inst2": "inst2@example.org",  # session_instructor of S2 only
    "cm": "cm@example.org",  # class_manager: no attestations
}


def build_world(factory) -> dict:
    f = factory
    t = f.training("T1", name="Sécurité incendie")
    course = f.module("m-cours", name="Consignes générales", max_scores=(0,))
    exam = f.module("m-eval", name="Évaluation finale", max_scores=(10,))
    f.step(t, course, position=1)
    f.step(t, exam, position=2, min_score=50)
    elodie = f.user(
        "u-elodie",
        first="Élodie",
        last="Marchand",
        email="elodie.marchand@example.org",
        fields={"Employeur": "Boulangerie Œuvre & Fils"},
    )
    zoe = f.user("u-zoe", first="Zoé", last="Blocquée", email="zoe@example.org", status="blocked")
    paul = f.user("u-paul", first="Paul", last="Lourd", email="paul@example.org")
    nina = f.user("u-nina", first="Nina", last="Absente", email="nina@example.org")
    for person in (elodie, zoe, paul, nina):
        f.enroll(person, t, at="2026-10-01 08:00")
    s1 = f.session(
        t, "S1", name="Sécurité incendie — automne", starts="2026-10-20 08:00", ends="2026-10-30 17:00",
        learners=(elodie, zoe, paul, nina),
    )  # fmt: skip
    s2 = f.session(t, "S2", name="Autre session", starts="2026-10-23 08:00", ends="2026-10-23 17:00")
    f.session(
        t, "S3", name="Session vide", starts="2026-11-02 08:00", ends="2026-11-02 17:00", learners=(nina,)
    )

    f.connection(elodie, course, "2026-10-21 21:30", "2026-10-21 22:45", s1)
    f.connection(elodie, exam, "2026-10-25 00:10", "2026-10-25 01:40", s1)
    f.connection(elodie, exam, "2026-10-26 09:00:00", "2026-10-26 09:20:40", s1)
    f.connection(elodie, course, "2026-10-22 08:00", "2026-10-22 09:00")
    f.connection(elodie, course, "2026-10-23 08:00", "2026-10-23 08:30", s2)
    f.attempt(elodie, t, course, started="2026-10-21 21:30", finished="2026-10-21 22:45", scores=[0])
    f.attempt(elodie, t, exam, started="2026-10-26 09:00", finished="2026-10-26 09:20", scores=[4])
    f.connection(zoe, course, "2026-10-20 08:00", "2026-10-20 08:30", s1)
    start = utc("2026-10-20 08:00")
    for i in range(300):
        begin = start + timedelta(minutes=20 * i)
        f.connection(
            paul, course, f"{begin:%Y-%m-%d %H:%M}", f"{begin + timedelta(minutes=10):%Y-%m-%d %H:%M}", s1
        )

    f.user("stat", first="Sam", last="Stat", email=ACCOUNTS["stat"], roles=("statistics_manager",))
    f.user("inst1", first="Inès", last="Prof", email=ACCOUNTS["inst1"], roles=("session_instructor:S1",))
    f.user("inst2", first="Iris", last="Autre", email=ACCOUNTS["inst2"], roles=("session_instructor:S2",))
    f.klass("c-1", name="Groupe", members=(elodie,), trainings=(t,))
    f.user("cm", first="Cléo", last="Classe", email=ACCOUNTS["cm"], roles=("class_manager:c-1",))
    f.refresh()
    f.s.commit()
    return {"session": "S1"}
