"""A small platform for the learner, class and search tests (issue 4), dated from today.

    trainings  T1 "Sécurité au travail" (M1, M2; min score 50; certificate valid 12 months)
               T2 "Excel avancé" (M3)   T3 "Management d'équipe" (M4; min score 50)
               T4 "Œnologie" (M5)
    classes    C1 "Équipe commerciale": lea, bob; registered to T1 and T2
               C2 "Support client": lea; registered to T3
               C3 "Direction": zoe; registered to T4
    learners   lea (Léa Apprenante): T1, T2 through C1 and T3 through C2
               bob (Bob Martin): T1, T2 through C1
               zoe (Zoé Œuvray): T4 through C3 and T3 directly
    managers   tm training manager of T1, cm class manager of C1, stats statistics manager

Every event is at a local hour of a day counted back from today (platform time zone), so the
trends over the last 7 and 30 days can be computed by hand (see each test):

    lea   connections  M1 d-40 45 min, M1 d-10 60 min, M2 d-3 30 min, M3 d-2 15 min, M4 d-1 20 min
          logins       d-5, d-1 (19:00)
          attempts     M1 finished d-10 (8/10 = 80), M2 finished d-3 (6/10 = 60): T1 passed d-3
                       M3 started d-2, unfinished: T2 in progress
                       M4 finished d-1 (2/10 = 20 < 50): T3 failed
    bob   M1 finished d-20 (10/10), connection M1 d-20 30 min
    zoe   connection M4 d-4 10 min
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from data.figures.days import day_start_utc, today_in

TZ = ZoneInfo("Europe/Paris")
PASSWORD = "password123"


def local(today: date, days_ago: int, hour: int = 10, minute: int = 0) -> str:
    """'YYYY-MM-DD HH:MM' (naive UTC) of local time hour:minute, days_ago days before today."""
    instant = day_start_utc(today - timedelta(days=days_ago), TZ) + timedelta(hours=hour, minutes=minute)
    return instant.isoformat(sep=" ", timespec="minutes")


@dataclass
class World:
    today: date
    users: dict
    trainings: dict
    modules: dict
    classes: dict


def build_world(factory) -> World:
    fa = factory
    today = today_in(TZ)
    d = lambda days_ago, hour=10, minute=0: local(today, days_ago, hour, minute)  # noqa: E731

    t1 = fa.training("T1", "Sécurité au travail", validity_months=12)
    t2 = fa.training("T2", "Excel avancé")
    t3 = fa.training("T3", "Management d'équipe")
    t4 = fa.training("T4", "Œnologie")
    m1, m2, m3, m4, m5 = (fa.module(f"M{i}", f"Module {i}") for i in range(1, 6))
    fa.step(t1, m1, 1, min_score=50)
    fa.step(t1, m2, 2, min_score=50)
    fa.step(t2, m3, 1)
    fa.step(t3, m4, 1, min_score=50)
    fa.step(t4, m5, 1)

    lea = fa.user(
        "lea",
        first="Léa",
        last="Apprenante",
        email="lea@example.org",
        created_at=day_start_utc(date(2026, 1, 5), TZ) + timedelta(hours=10),
        labels=("vip", "Nord"),
        fields={"Service": "Ventes", "Badge": "B-12"},
    )
    bob = fa.user("bob", first="Bob", last="Martin", email="bob@example.org")
    zoe = fa.user("zoe", first="Zoé", last="Œuvray", email="zoe@example.org")
    tm = fa.user(
        "tm", first="Thérèse", last="Formation", email="tm@example.org", roles=["training_manager:T1"]
    )
    cm = fa.user("cm", first="Clément", last="Chef", email="cm@example.org", roles=["class_manager:C1"])
    stats = fa.user(
        "stats", first="Stéphanie", last="Stats", email="stats@example.org", roles=["statistics_manager"]
    )

    c1 = fa.klass("C1", "Équipe commerciale", members=[lea, bob], trainings=[t1, t2])
    c2 = fa.klass("C2", "Support client", members=[lea], trainings=[t3])
    c3 = fa.klass("C3", "Direction", members=[zoe], trainings=[t4])
    fa.enroll(zoe, t3, at=d(60))

    fa.connection(lea, m1, d(40), d(40, 10, 45))
    fa.connection(lea, m1, d(10), d(10, 11))
    fa.connection(lea, m2, d(3), d(3, 10, 30))
    fa.connection(lea, m3, d(2), d(2, 10, 15))
    fa.connection(lea, m4, d(1), d(1, 10, 20))
    fa.login(lea, d(5, 8))
    fa.login(lea, d(1, 19))
    fa.attempt(lea, t1, m1, started=d(10), finished=d(10, 10, 50), scores=(8,))
    fa.attempt(lea, t1, m2, started=d(3), finished=d(3, 10, 25), scores=(6,))
    fa.attempt(lea, t2, m3, started=d(2), finished=None, scores=(3,))
    fa.attempt(lea, t3, m4, started=d(1), finished=d(1, 10, 15), scores=(2,))

    fa.attempt(bob, t1, m1, started=d(20), finished=d(20, 10, 20), scores=(10,))
    fa.connection(bob, m1, d(20), d(20, 10, 30))
    fa.connection(zoe, m4, d(4), d(4, 10, 10))
    fa.s.commit()
    return World(
        today=today,
        users={u.id: u for u in (lea, bob, zoe, tm, cm, stats)},
        trainings={t.id: t for t in (t1, t2, t3, t4)},
        modules={m.id: m for m in (m1, m2, m3, m4, m5)},
        classes={c.id: c for c in (c1, c2, c3)},
    )


# ---------------------------------------------------------------------------------------------
# Callback requests as the browser sends them (for the forged-request tests)
# ---------------------------------------------------------------------------------------------


def _stringify(component_id) -> str:
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return component_id


def callback_key(dash_app, *outputs: tuple) -> str:
    """The app's callback_map key of the callback writing these (id, property) outputs."""
    wanted = []
    for component_id, prop in outputs:
        if isinstance(component_id, dict):
            # Shared callbacks are registered with MATCH on every key but the type.
            component_id = {k: v if k == "type" else ["MATCH"] for k, v in component_id.items()}
        wanted.append(f"{_stringify(component_id)}.{prop}")
    for key in dash_app.callback_map:
        if all(w in key for w in wanted):
            return key
    raise KeyError(f"no callback writes {wanted}")


def post_callback(client, dash_app, outputs: list[tuple], inputs: list[tuple], state: list[tuple] = ()):
    """POST /_dash-update-component as dash-renderer does; (id, property[, value]) tuples.
    Returns the response (status 200 with the new props, or the error status)."""
    client.get("/_dash-layout")  # the app merges its page callbacks on its first request
    outs = [{"id": i, "property": p} for i, p in outputs]
    body = {
        "output": callback_key(dash_app, *outputs),
        "outputs": outs if len(outs) > 1 else outs[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{_stringify(inputs[0][0])}.{inputs[0][1]}"] if inputs else [],
    }
    return client.post("/_dash-update-component", json=body)


def response_props(response, component_id) -> dict:
    return response.get_json()["response"][_stringify(component_id)]
