"""A small platform with program sessions, for the sessions pages and the OPCO export tests.

Times are UTC; Paris is UTC+1 until 29 March 2026, UTC+2 after. Session s-a's figures, by hand:

  people      registered  connections in s-a        training t-sec results (SPEC §4)
  Ève Bernard yes(blocked) 10 min                   not started, score 0
  Bob Durand  yes          2 h                       in progress: intro 50, quiz -> 25
  Chloé Ézard yes          none                      not started, score 0
  Alice Martin yes         1 h + 30 min (+ 1 h outside any session)   passed: 100, 60 -> 80
  Dan Œuvray  no           45 min                    failed: 100, 40 (min 50) -> 70

  registered 4, played 4 (Ève, Bob, Alice, Dan), completed 2 (Alice passed, Dan failed),
  median time of the players = median(600, 2700, 5400, 7200) = 4050 s (1 h 08 min),
  average score = (0 + 25 + 0 + 80 + 70) / 5 = 35.
"""

from __future__ import annotations

PASSWORD = "password123"

ACCOUNTS = {
    "stat": "stat@example.org",  # statistics_manager: everything
    "inst": "inst@example.org",  # session_instructor of s-a
    "tm": "tm@example.org",  # training_manager of t-man (session s-m)
    "cm": "cm@example.org",  # class_manager of c-1: no session rights
    "lea": "lea@example.org",  # a learner
}


def build_world(factory) -> dict:
    f = factory
    sec = f.training("t-sec", name="Sécurité, niveau 1")
    man = f.training("t-man", name="Management")
    intro = f.module("m-intro", name="Introduction", max_scores=(10,))
    quiz = f.module("m-quiz", name="Quiz final", max_scores=(10,))
    lead = f.module("m-lead", name="Leadership", max_scores=(10,))
    f.step(sec, intro, position=1)
    f.step(sec, quiz, position=2, min_score=50)
    f.step(man, lead, position=1)

    eve = f.user("eve", first="Ève", last="Bernard", email="eve@example.org", status="blocked")
    bob = f.user("bob", first="Bob", last="Durand", email="bob@example.org", fields={"Company": "ACME"})
    chloe = f.user("chloe", first="Chloé", last="Ézard", email="chloe@example.org")
    alice = f.user(
        "alice",
        first="Alice",
        last="Martin",
        email="alice@example.org",
        labels=("VIP", "Lyon, site 2"),
        fields={"Company": "Initech", "Funding": "OPCO Atlas"},
    )
    dan = f.user("dan", first="Dan", last="Œuvray", email="dan@example.org", fields={"Company": "ACME"})
    frank = f.user("frank", first="Frank", last="Petit", email="frank@example.org")
    for learner in (eve, bob, chloe, alice, dan):
        f.enroll(learner, sec, at="2026-02-01 09:00")
    f.enroll(frank, man, at="2026-02-01 09:00")

    s_a = f.session(
        sec, "s-a", name="Printemps 2026", starts="2026-03-01 08:00", ends="2026-03-31 16:00",
        learners=(alice, bob, chloe, eve),
    )  # fmt: skip
    f.session(
        sec, "s-b", name="Été 2026", starts="2026-06-01 07:00", ends="2026-06-30 16:00", learners=(alice,)
    )
    s_m = f.session(
        man, "s-m", name="Management A", starts="2026-04-01 07:00", ends="2026-04-30 16:00", learners=(frank,)
    )

    f.connection(alice, intro, "2026-03-02 08:00", "2026-03-02 09:00", s_a)
    f.connection(alice, quiz, "2026-03-30 12:00", "2026-03-30 12:30", s_a)
    f.connection(alice, intro, "2026-03-03 08:00", "2026-03-03 09:00")  # outside any session
    f.connection(bob, intro, "2026-03-05 09:00", "2026-03-05 11:00", s_a)
    f.connection(dan, quiz, "2026-03-10 14:00", "2026-03-10 14:45", s_a)
    f.connection(eve, intro, "2026-03-12 10:00", "2026-03-12 10:10", s_a)
    f.connection(frank, lead, "2026-04-02 07:30", "2026-04-02 08:30", s_m)

    f.attempt(alice, sec, intro, started="2026-03-02 08:00", finished="2026-03-02 09:00", scores=[10])
    f.attempt(alice, sec, quiz, started="2026-03-30 12:00", finished="2026-03-30 12:30", scores=[6])
    f.attempt(bob, sec, intro, started="2026-03-05 09:00", finished="2026-03-05 11:00", scores=[5])
    f.attempt(dan, sec, intro, started="2026-03-10 13:00", finished="2026-03-10 13:30", scores=[10])
    f.attempt(dan, sec, quiz, started="2026-03-10 14:00", finished="2026-03-10 14:45", scores=[4])

    f.klass("c-1", name="Groupe Lyon", members=(alice, bob), trainings=(sec,))

    f.user("stat", first="Sam", last="Stat", email=ACCOUNTS["stat"], roles=("statistics_manager",))
    f.user("inst", first="Ines", last="Prof", email=ACCOUNTS["inst"], roles=("session_instructor:s-a",))
    f.user("tm", first="Tom", last="Manager", email=ACCOUNTS["tm"], roles=("training_manager:t-man",))
    f.user("cm", first="Cléo", last="Classe", email=ACCOUNTS["cm"], roles=("class_manager:c-1",))
    f.user("lea", first="Léa", last="Seule", email=ACCOUNTS["lea"])
    f.s.commit()
    return {"sessions": ("s-a", "s-b", "s-m")}
