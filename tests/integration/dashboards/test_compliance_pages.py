"""The compliance pack's controls and pages (issue 19 points 4-6): the session page's EDOF
dialog, the "Bilan (BPF)" page and the "Résultats" page, their callbacks called as functions
in the signed-in user's scope."""

from __future__ import annotations

import base64
import csv
import io

import pytest

from data.scope import Forbidden
from tests.helpers import served_page, signed_in


@pytest.fixture
def edof_world(factory):
    f = factory
    t = f.training("T1", name="Sécurité")
    other = f.training("T2", name="Autre")
    m1 = f.module("M1")
    f.step(t, m1, 1)
    ana = f.user("u-ana", first="Ana", last="Àlvarez", email="ana@x.org")
    f.enroll(ana, t)
    s1 = f.session(t, "S1", name="Mars", learners=(ana,))
    f.session(other, "S2", name="Autre session")
    f.connection(ana, m1, "2026-03-10 08:00", "2026-03-10 09:00", s1)
    f.user("inst", email="inst@x.org", roles=("session_instructor:S1",))
    f.user("tm2", email="tm2@x.org", roles=("training_manager:T2",))
    f.user("lea", email="lea@x.org")
    f.s.commit()
    return f


def test_cmp001_edof_dialog_opens_with_the_default_and_downloads(edof_world, server):
    from dashboards.dialogs import edof
    from exports.attestation_options import AttestationOptions, save_defaults

    save_defaults(edof_world.s, AttestationOptions(duration_hours=4))
    edof_world.s.commit()
    served_page("session")  # the page (and with it the dialog's callbacks) is loaded
    with signed_in(server, "inst", "/session/S1"):
        is_open, duration, language = edof.open_edof_dialog(1, "S1")
        assert (is_open, duration, language) == (True, "4", "en")  # the tests' interface is English
        data, message = edof.edof_download("csv", "S1", duration, "fr")
    assert message == ""
    assert data["filename"].startswith("edof-S1-") and data["filename"].endswith(".csv")
    text = base64.b64decode(data["content"]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))  # French: ";" and ","
    assert rows[0][0] == "Nom" and rows[1][:9] == [
        "Àlvarez", "Ana", "ana@x.org", "S1", "10/03/2026", "10/03/2026", "4 h 00", "1 h 00", "25,0"
    ]  # fmt: skip
    with signed_in(server, "inst", "/session/S1"):
        data, message = edof.edof_download("xlsx", "S1", "0", "en")
    assert data is None and "more than 0" in str(message)


@pytest.mark.parametrize("user", ["tm2", "lea"])
def test_cmp002_edof_callbacks_refuse_outside_the_scope(edof_world, server, user):
    from dashboards.dialogs import edof

    with signed_in(server, user), pytest.raises(Forbidden):
        edof.open_edof_dialog(1, "S1")
    with signed_in(server, user), pytest.raises(Forbidden):
        edof.edof_download("csv", "S1", "2", "fr")
    with signed_in(server, "inst"), pytest.raises(Forbidden):
        edof.edof_download("csv", "S2", "2", "fr")  # forged: another session's id


@pytest.fixture
def bpf_world(factory):
    f = factory
    t = f.training("T1")
    m1 = f.module("M1")
    f.step(t, m1, 1)
    for user_id, value, minutes in (
        ("a1", "CDI", 150),
        ("b1", "Apprenti", 45),
        ("x1", "Autre", 60),
        ("n1", None, 30),
    ):
        u = f.user(user_id, email=f"{user_id}@x.org", fields={"Statut": value} if value else None)
        f.enroll(u, t)
        f.connection(u, m1, "2025-03-02 08:00", f"2025-03-02 {8 + minutes // 60:02d}:{minutes % 60:02d}")
    f.user("stat", email="stat@x.org", roles=("statistics_manager",))
    f.user("gum", email="gum@x.org", roles=("global_user_manager",))
    f.user("tm", email="tm@x.org", roles=("training_manager:T1",))
    f.s.commit()
    return f


def test_cmp003_bpf_page_table_mapping_and_download(bpf_world, server, client):
    from tests.conftest import sign_in

    bpf = served_page("bpf")
    ids = [{"type": "bpf-line", "value": v} for v in ("Apprenti", "Autre", "CDI")]
    with signed_in(server, "stat", "/bpf"):
        page = str(bpf.layout())
        assert "bpf-field" in page and "page-forbidden" not in page
        mapping = str(bpf.update_bpf_mapping("Statut"))
        assert "'value': 'Apprenti'" in mapping and "'value': 'CDI'" in mapping
        table = bpf.update_bpf_table("2025-01-01", "2025-12-31", "Statut", ["b", "e", "a"], ids, "custom")
    text = str(table)
    # a: 2.5 h -> 3 (half up); b: 0.75 h -> 1; e: "Autre" 1 h + no field 0.5 h = 1.5 h -> 2.
    for key, trainees, hours in (("a", "1", "3"), ("b", "1", "1"), ("e", "2", "2"), ("total", "4", "6")):
        row = _find(table, f"bpf-row-{key}")
        assert [str(td.children) for td in row.children[1:]] == [trainees, hours], key
    assert "From 01/01/2025 to 31/12/2025: 4 trainees." in text
    with signed_in(server, "stat", "/bpf"):
        data, message = bpf.bpf_download(
            "csv", "2025-01-01", "2025-12-31", "custom", "Statut", ["b", "e", "a"], ids
        )
    assert message == ""
    rows = list(csv.reader(io.StringIO(base64.b64decode(data["content"]).decode("utf-8-sig"))))
    assert rows[0][1:] == ["1", "3"] and rows[5] == ["Total", "4", "6"]
    assert data["filename"] == "bpf-f1-2025-01-01-2025-12-31.csv"
    from exports.bpf import BpfOptions, load_bpf_defaults

    with server.extensions["learnstats_db"].session() as s:  # kept as the defaults
        assert load_bpf_defaults(s) == BpfOptions("Statut", {"Apprenti": "b", "CDI": "a"})
    sign_in(client, "tm@x.org")
    assert client.get("/bpf").status_code == 403  # a training manager: refused on the server


def _find(component, wanted):
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        found = _find(child, wanted)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("user", ["gum", "tm"])
def test_cmp004_bpf_callbacks_refuse_other_roles(bpf_world, server, user):
    bpf = served_page("bpf")
    with signed_in(server, user, "/bpf"):
        assert "page-forbidden" in str(bpf.layout())
        for call in (
            lambda: bpf.update_bpf_mapping("Statut"),
            lambda: bpf.update_bpf_table("2025-01-01", "2025-12-31", "Statut", [], [], "custom"),
            lambda: bpf.bpf_download("pdf", "2025-01-01", "2025-12-31", "custom", "Statut", [], []),
        ):
            with pytest.raises(Forbidden):
                call()


@pytest.fixture
def results_world(factory):
    f = factory
    t1, t2 = f.training("T1", name="Sécurité"), f.training("T2", name="OUTSIDE Accueil")
    m1, m2 = f.module("M1"), f.module("M2")
    f.step(t1, m1, 1)
    f.step(t2, m2, 1)
    ana, bob = f.user("ana", email="ana@x.org"), f.user("bob", email="bob@x.org")
    f.enroll(ana, t1, at="2026-02-01 09:00")
    f.enroll(bob, t2, at="2026-02-01 09:00")
    f.attempt(ana, t1, m1, started="2026-03-10 09:00", finished="2026-03-10 10:00", scores=(8,))
    f.attempt(bob, t2, m2, started="2026-03-10 09:00", finished="2026-03-10 10:00", scores=(8,))
    f.user("tm", email="tm@x.org", roles=("training_manager:T1",))
    f.user("cm", email="cm@x.org", roles=("class_manager:C1",))
    f.s.commit()
    return f


def test_cmp005_results_page_for_a_training_manager(results_world, server, client):
    from tests.conftest import sign_in

    results = served_page("results")
    with signed_in(server, "tm", "/results"):
        page = str(results.layout(training="T1"))
        assert "OUTSIDE" not in page and "Sécurité" in page
        body = str(results.update_results("2026-03-01", "2026-03-31", "T1", "custom"))
        assert "Training « Sécurité »" in body and "1 learners with activity in the period" in body
        assert "100.0" in body  # completed and passed: 1 of 1
        everything = str(results.update_results("2026-03-01", "2026-03-31", "__all__", "custom"))
        assert "1 learners with activity" in everything  # their trainings only: T2's Bob is not there
        data, message = results.results_pdf("2026-03-01", "2026-03-31", "custom", "T1")
    assert message == "" and data["filename"] == "qualiopi-T1-2026-03-01-2026-03-31.pdf"
    assert base64.b64decode(data["content"]).startswith(b"%PDF")
    with signed_in(server, "tm", "/results"):
        for forged in (
            lambda: results.update_results("2026-03-01", "2026-03-31", "T2", "custom"),
            lambda: results.results_pdf("2026-03-01", "2026-03-31", "custom", "T2"),
        ):
            with pytest.raises(Forbidden):
                forged()
    with signed_in(server, "cm", "/results"):
        assert "page-forbidden" in str(results.layout())
        with pytest.raises(Forbidden):
            results.update_results("2026-03-01", "2026-03-31", "__all__", "custom")
    sign_in(client, "cm@x.org")
    assert client.get("/results").status_code == 403
