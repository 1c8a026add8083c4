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
