"""OPCO logs export (SPEC §7, issue 5 points 3, 4, 6, 7): file format, filters, scopes, streaming, CLI."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from sqlalchemy import event

from auth.roles import load_scope
from data import models as m
from data.scope import Forbidden, Scope, global_scope
from exports.opco_logs import (
    OpcoLogFilters,
    OpcoLogsError,
    UnknownField,
    UnknownSession,
    format_duration,
    iter_opco_log_rows,
    iter_opco_logs_csv,
    opco_log_header,
    utc_bounds,
    write_opco_logs_xlsx,
)
from tests.spreadsheets import serial, shown

PARIS = ZoneInfo("Europe/Paris")
BOM = b"\xef\xbb\xbf"

# The hand-made case below, written out by hand: BOM, header, RFC 4180 quoting, CRLF.
# Custom field columns: "âge" < "Company" < "Funding" (accents and case ignored).
# Order: Àlvarez before bernard/Bernard (accents ignored), the two Bernard tied on names and
# ordered by email, Œuvray ("oe") before Ozanne; Œuvray's rows by session id first (s-a before
# s-b although s-b's connection is earlier), then time, then course (Introduction before Quiz
# final at the same minute).
EXPECTED_CSV = (
    BOM
    + (
        "Last name,First name,Email,âge,Company,Funding,Additional information,Labels,Session,Session ID,"
        "Program template,Program template ID,Course,Connected,Disconnected,Time spent\r\n"
        "Àlvarez,Marc,marc@example.org,,Initech,,Room 4; floor 2,,Printemps 2026,s-a,"
        '"Sécurité, niveau 1",t-sec,Introduction,02/02/2026 00:30,02/02/2026 01:15,00:00:45\r\n'
        "bernard,Zoe,a@example.org,,,,,VIP,Autre session,s-c,"
        '"Sécurité, niveau 1",t-sec,Introduction,20/01/2026 11:00,20/01/2026 12:00,00:01:00\r\n'
        "Bernard,Zoé,b@example.org,42,,,,,Printemps 2026,s-a,"
        '"Sécurité, niveau 1",t-sec,Introduction,20/01/2026 11:00,20/01/2026 11:30,00:00:30\r\n'
        'Œuvray,Éloïse,eloise@example.org,,ACME,OPCO Atlas,"Says ""hi""","Alpha, Beta, éclair, zèbre",'
        'Printemps 2026,s-a,"Sécurité, niveau 1",t-sec,Introduction,10/01/2026 09:00,10/01/2026 09:20,00:00:21\r\n'
        'Œuvray,Éloïse,eloise@example.org,,ACME,OPCO Atlas,"Says ""hi""","Alpha, Beta, éclair, zèbre",'
        'Printemps 2026,s-a,"Sécurité, niveau 1",t-sec,Quiz final,10/01/2026 09:00,11/01/2026 11:03,01:02:03\r\n'
        'Œuvray,Éloïse,eloise@example.org,,ACME,OPCO Atlas,"Says ""hi""","Alpha, Beta, éclair, zèbre",'
        'Printemps 2026,s-a,"Sécurité, niveau 1",t-sec,Introduction,29/03/2026 01:30,29/03/2026 03:45,00:01:15\r\n'
        'Œuvray,Éloïse,eloise@example.org,,ACME,OPCO Atlas,"Says ""hi""","Alpha, Beta, éclair, zèbre",'
        "Session B; soir,s-b,Management,t-man,Leadership,05/01/2026 10:00,05/01/2026 10:10,00:00:10\r\n"
        "Ozanne,Paul,paul@example.org,,,,,,Printemps 2026,s-a,"
        '"Sécurité, niveau 1",t-sec,Quiz final,14/07/2026 14:00,14/07/2026 15:00,00:01:00\r\n'
    ).encode()
)

# The same file with ";": the commas no longer need quotes, the semicolons do.
EXPECTED_CSV_SEMICOLON = (
    BOM
    + (
        "Last name;First name;Email;âge;Company;Funding;Additional information;Labels;Session;Session ID;"
        "Program template;Program template ID;Course;Connected;Disconnected;Time spent\r\n"
        'Àlvarez;Marc;marc@example.org;;Initech;;"Room 4; floor 2";;Printemps 2026;s-a;'
        "Sécurité, niveau 1;t-sec;Introduction;02/02/2026 00:30;02/02/2026 01:15;00:00:45\r\n"
        "bernard;Zoe;a@example.org;;;;;VIP;Autre session;s-c;"
        "Sécurité, niveau 1;t-sec;Introduction;20/01/2026 11:00;20/01/2026 12:00;00:01:00\r\n"
        "Bernard;Zoé;b@example.org;42;;;;;Printemps 2026;s-a;"
        "Sécurité, niveau 1;t-sec;Introduction;20/01/2026 11:00;20/01/2026 11:30;00:00:30\r\n"
        'Œuvray;Éloïse;eloise@example.org;;ACME;OPCO Atlas;"Says ""hi""";Alpha, Beta, éclair, zèbre;'
        "Printemps 2026;s-a;Sécurité, niveau 1;t-sec;Introduction;10/01/2026 09:00;10/01/2026 09:20;00:00:21\r\n"
        'Œuvray;Éloïse;eloise@example.org;;ACME;OPCO Atlas;"Says ""hi""";Alpha, Beta, éclair, zèbre;'
        "Printemps 2026;s-a;Sécurité, niveau 1;t-sec;Quiz final;10/01/2026 09:00;11/01/2026 11:03;01:02:03\r\n"
        'Œuvray;Éloïse;eloise@example.org;;ACME;OPCO Atlas;"Says ""hi""";Alpha, Beta, éclair, zèbre;'
        "Printemps 2026;s-a;Sécurité, niveau 1;t-sec;Introduction;29/03/2026 01:30;29/03/2026 03:45;00:01:15\r\n"
        'Œuvray;Éloïse;eloise@example.org;;ACME;OPCO Atlas;"Says ""hi""";Alpha, Beta, éclair, zèbre;'
        '"Session B; soir";s-b;Management;t-man;Leadership;05/01/2026 10:00;05/01/2026 10:10;00:00:10\r\n'
        "Ozanne;Paul;paul@example.org;;;;;;Printemps 2026;s-a;"
        "Sécurité, niveau 1;t-sec;Quiz final;14/07/2026 14:00;14/07/2026 15:00;00:01:00\r\n"
    ).encode()
)


def build_case(factory):
    """The hand-made platform of EXPECTED_CSV (UTC times; Paris is UTC+1 in winter, +2 in summer)."""
    security = factory.training("t-sec", name="Sécurité, niveau 1")
    management = factory.training("t-man", name="Management")
    # Ids in the reverse order of the names: the Course order must follow the names.
    intro = factory.module("m2", name="Introduction")
    quiz = factory.module("m1", name="Quiz final")
    lead = factory.module("m3", name="Leadership")
    s_a = factory.session(security, "s-a", name="Printemps 2026")
    s_b = factory.session(management, "s-b", name="Session B; soir")
    s_c = factory.session(security, "s-c", name="Autre session")

    eloise = factory.user(
        "u-oe",
        first="Éloïse",
        last="Œuvray",
        email="eloise@example.org",
        labels=("zèbre", "Alpha, Beta", "éclair"),
        fields={"Company": "ACME", "Funding": "OPCO Atlas"},
        additional_info='Says "hi"',
    )
    marc = factory.user(
        "u-alv",
        first="Marc",
        last="Àlvarez",
        email="marc@example.org",
        status="blocked",
        fields={"Company": "Initech"},
        additional_info="Room 4; floor 2",
    )
    zoe_b = factory.user("u-ber", first="Zoé", last="Bernard", email="b@example.org", fields={"âge": "42"})
    zoe_a = factory.user("u-ber2", first="Zoe", last="bernard", email="a@example.org", labels=("VIP",))
    paul = factory.user("u-oz", first="Paul", last="Ozanne", email="paul@example.org")
    nobody = factory.user("u-none", first="Out", last="Side", email="out@example.org")

    # Quiz before Introduction in insertion order: the Course tie-break must do the work.
    factory.connection(eloise, quiz, "2026-01-10 08:00", "2026-01-11 10:03:29", s_a)  # 1 d 2 h 3 min 29 s
    factory.connection(eloise, intro, "2026-01-10 08:00", "2026-01-10 08:20:30", s_a)  # 20.5 min -> 21
    factory.connection(eloise, intro, "2026-03-29 00:30", "2026-03-29 01:45", s_a)  # across the DST change
    factory.connection(eloise, lead, "2026-01-05 09:00", "2026-01-05 09:10:29", s_b)  # 10 min 29 s -> 10
    factory.connection(eloise, intro, "2026-01-06 09:00", "2026-01-06 10:00")  # outside any session
    factory.connection(marc, intro, "2026-02-01 23:30", "2026-02-02 00:15", s_a)  # local day: 2 Feb
    factory.connection(paul, quiz, "2026-07-14 12:00", "2026-07-14 13:00", s_a)
    factory.connection(zoe_b, intro, "2026-01-20 10:00", "2026-01-20 10:30", s_a)
    factory.connection(zoe_a, intro, "2026-01-20 10:00", "2026-01-20 11:00", s_c)
    factory.connection(nobody, quiz, "2026-01-07 09:00", "2026-01-07 10:00")  # outside any session
    return {"users": (eloise, marc, zoe_b, zoe_a, paul, nobody), "trainings": (security, management)}


def csv_bytes(session, scope, filters=None, delimiter=","):
    return b"".join(iter_opco_logs_csv(session, scope, filters or OpcoLogFilters(), PARIS, delimiter))


def parse(data: bytes, delimiter=","):
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline=""), delimiter=delimiter))


def rows(session, scope=None, **filters):
    return list(iter_opco_log_rows(session, scope or global_scope(), OpcoLogFilters(**filters), PARIS))


def column(session, name, scope=None, **filters):
    """One column of the exported rows, by header title."""
    header = opco_log_header(session, scope or global_scope(), OpcoLogFilters(**filters))
    index = header.index(name)
    return [row[index] for row in rows(session, scope, **filters)]


def keys(session, scope=None, **filters):
    """(email, session id, connected) of each exported row."""
    return [(row[2], row[-7], row[-3]) for row in rows(session, scope, **filters)]


# -- the file ----------------------------------------------------------------------------------


def test_opco001_hand_made_case_byte_for_byte(factory):
    build_case(factory)
    assert csv_bytes(factory.s, global_scope()) == EXPECTED_CSV


def test_opco002_semicolon_delimiter_byte_for_byte(factory):
    build_case(factory)
    assert csv_bytes(factory.s, global_scope(), delimiter=";") == EXPECTED_CSV_SEMICOLON


def test_opco003_rows_and_header_match_the_csv(factory):
    build_case(factory)
    parsed = parse(EXPECTED_CSV)
    assert opco_log_header(factory.s, global_scope(), OpcoLogFilters()) == parsed[0]
    assert rows(factory.s) == parsed[1:]


def test_opco004_time_spent_rounds_to_the_nearest_minute():
    assert format_duration(timedelta(seconds=29)) == "00:00:00"
    assert format_duration(timedelta(seconds=30)) == "00:00:01"
    assert format_duration(timedelta(minutes=59, seconds=59, microseconds=999_999)) == "00:01:00"
    assert format_duration(timedelta(days=1, hours=2, minutes=3, seconds=29)) == "01:02:03"
    assert format_duration(timedelta(days=1, hours=23, minutes=59, seconds=30)) == "02:00:00"
    assert format_duration(timedelta(days=123, minutes=5)) == "123:00:05"
    assert format_duration(timedelta(seconds=-90)) == "00:00:00"


def test_opco005_connection_across_autumn_dst_change_counts_real_time(factory):
    """25 Oct 2026: 00:30 UTC (02:30 CEST) -> 01:45 UTC (02:45 CET): 1 h 15 of real time."""
    training = factory.training("t1", name="T")
    module = factory.module("mx", name="M")
    program_session = factory.session(training, "s1")
    user = factory.user("u1", last="Dupont")
    factory.connection(user, module, "2026-10-25 00:30", "2026-10-25 01:45", program_session)
    [row] = rows(factory.s)
    assert row[-3:] == ["25/10/2026 02:30", "25/10/2026 02:45", "00:01:15"]


def test_opco006_xlsx_has_bold_frozen_header_and_the_csv_cells(factory):
    build_case(factory)
    target = io.BytesIO()
    write_opco_logs_xlsx(factory.s, global_scope(), OpcoLogFilters(), PARIS, target)
    target.seek(0)
    sheet = openpyxl.load_workbook(target).active
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert not any(cell.font.bold for cell in sheet[2])
    cells = [[shown(cell) for cell in row] for row in sheet.iter_rows()]
    assert cells == parse(EXPECTED_CSV)
    # Connected and Disconnected are dates, Time spent a number of days (summable); every other
    # cell stays a string: numbers and dates in the data are not converted by the writer.
    kinds = [[cell.data_type for cell in row if cell.value] for row in sheet.iter_rows(min_row=2)]
    assert {tuple(row[-3:]) for row in kinds} == {("d", "d", "d")}  # openpyxl: time formats are "d"
    assert {kind for row in kinds for kind in row[:-3]} == {"s"}
    assert serial(sheet["P2"].value) == 45 / 1440


def _xlsx(factory, filters: OpcoLogFilters) -> bytes:
    target = io.BytesIO()
    write_opco_logs_xlsx(factory.s, global_scope(), filters, PARIS, target)
    return target.getvalue()


def _core_created(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        core = archive.read("docProps/core.xml").decode()
    return re.search(r"<dcterms:created[^>]*>([^<]*)</dcterms:created>", core).group(1)


def test_opco007_xlsx_is_reproducible(factory):
    """The workbook's creation time comes from the filters, not the clock: the end of the last
    exported day (platform time zone, written in UTC), else 1980-01-01T00:00:00Z (the date
    XlsxWriter gives the archive's entries). The same filters give the same bytes."""
    build_case(factory)
    ranged = OpcoLogFilters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    first = _xlsx(factory, ranged)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1, seconds=1)):
        assert _xlsx(factory, ranged) == first  # a day and a second later: a clock-based time would change
    # 31 March 2026 ends at midnight in Paris, summer time (UTC+2).
    assert _core_created(first) == "2026-03-31T22:00:00Z"
    everything = _xlsx(factory, OpcoLogFilters())
    assert _core_created(everything) == "1980-01-01T00:00:00Z"
    assert _xlsx(factory, OpcoLogFilters()) == everything


# -- filters -----------------------------------------------------------------------------------


def test_opco010_date_filter_uses_local_days(factory):
    build_case(factory)
    # 2026-02-01 23:30 UTC is 2 February 00:30 in Paris: it belongs to 2 February.
    assert keys(factory.s, date_from=date(2026, 2, 2), date_to=date(2026, 2, 2)) == [
        ("marc@example.org", "s-a", "02/02/2026 00:30")
    ]
    assert keys(factory.s, date_from=date(2026, 2, 1), date_to=date(2026, 2, 1)) == []
    # Summer time: 29 March runs from 28 March 23:00 UTC to 29 March 22:00 UTC.
    assert keys(factory.s, date_from=date(2026, 3, 29), date_to=date(2026, 3, 29)) == [
        ("eloise@example.org", "s-a", "29/03/2026 01:30")
    ]
    # Open-ended bounds.
    assert [k[2] for k in keys(factory.s, date_from=date(2026, 3, 1))] == [
        "29/03/2026 01:30",
        "14/07/2026 14:00",
    ]
    assert [k[2] for k in keys(factory.s, date_to=date(2026, 1, 9))] == ["05/01/2026 10:00"]


def test_opco011_date_bounds_in_utc():
    assert utc_bounds(date(2026, 1, 10), date(2026, 1, 10), PARIS) == (
        datetime(2026, 1, 9, 23, 0),
        datetime(2026, 1, 10, 23, 0),
    )
    assert utc_bounds(date(2026, 3, 29), date(2026, 3, 29), PARIS) == (
        datetime(2026, 3, 28, 23, 0),
        datetime(2026, 3, 29, 22, 0),
    )
    assert utc_bounds(None, date(2026, 10, 25), PARIS) == (None, datetime(2026, 10, 25, 23, 0))


def test_opco012_start_after_end_is_a_clear_error(factory):
    build_case(factory)
    with pytest.raises(OpcoLogsError, match="after the end date"):
        rows(factory.s, date_from=date(2026, 2, 2), date_to=date(2026, 2, 1))


def test_opco013_user_filter(factory):
    build_case(factory)
    assert keys(factory.s, user_ids=("u-ber", "u-oz")) == [
        ("b@example.org", "s-a", "20/01/2026 11:00"),
        ("paul@example.org", "s-a", "14/07/2026 14:00"),
    ]
    assert rows(factory.s, user_ids=("u-none",)) == []


def test_opco014_group_filter(factory):
    case = build_case(factory)
    eloise, marc, _, _, paul, _ = case["users"]
    factory.klass("c1", members=(marc, paul))
    factory.klass("c2", members=(eloise,))
    assert keys(factory.s, class_ids=("c1",)) == [
        ("marc@example.org", "s-a", "02/02/2026 00:30"),
        ("paul@example.org", "s-a", "14/07/2026 14:00"),
    ]
    assert len(rows(factory.s, class_ids=("c1", "c2"))) == 6
    assert rows(factory.s, class_ids=("no-such-class",)) == []


def test_opco015_session_filter(factory):
    build_case(factory)
    assert keys(factory.s, session_ids=("s-b",)) == [("eloise@example.org", "s-b", "05/01/2026 10:00")]
    assert keys(factory.s, session_ids=("s-c", "s-b")) == [
        ("a@example.org", "s-c", "20/01/2026 11:00"),
        ("eloise@example.org", "s-b", "05/01/2026 10:00"),
    ]


def test_opco016_unknown_session_is_a_clear_error_for_global_viewers(factory):
    build_case(factory)
    with pytest.raises(UnknownSession, match="no-such-session"):
        rows(factory.s, session_ids=("s-a", "no-such-session"))


def test_opco017_field_value_filter(factory):
    build_case(factory)
    acme = [("Company", "ACME")]
    assert {k[0] for k in keys(factory.s, fields=tuple(acme))} == {"eloise@example.org"}
    # The same field twice: either value.
    either = (("Company", "ACME"), ("Company", "Initech"))
    assert {k[0] for k in keys(factory.s, fields=either)} == {"eloise@example.org", "marc@example.org"}
    # Different fields: both.
    assert {k[0] for k in keys(factory.s, fields=(("Company", "ACME"), ("Funding", "OPCO Atlas")))} == {
        "eloise@example.org"
    }
    assert rows(factory.s, fields=(("Company", "Initech"), ("Funding", "OPCO Atlas"))) == []
    assert rows(factory.s, fields=(("Company", "acme"),)) == []
    with pytest.raises(UnknownField, match="Compagny"):
        rows(factory.s, fields=(("Compagny", "ACME"),))


def test_opco018_columns_subset_stays_alphabetical(factory):
    build_case(factory)
    filters = OpcoLogFilters(columns=("Funding", "âge"))
    header = opco_log_header(factory.s, global_scope(), filters)
    assert header[:6] == ["Last name", "First name", "Email", "âge", "Funding", "Additional information"]
    assert len(header) == 15
    data = list(iter_opco_log_rows(factory.s, global_scope(), filters, PARIS))
    assert [row[3:5] for row in data] == [
        ["", ""],
        ["", ""],
        ["42", ""],
        *[["", "OPCO Atlas"]] * 4,
        ["", ""],
    ]
    no_fields = OpcoLogFilters(columns=())
    assert opco_log_header(factory.s, global_scope(), no_fields)[3] == "Additional information"
    assert next(iter_opco_log_rows(factory.s, global_scope(), no_fields, PARIS))[3] == "Room 4; floor 2"


def test_opco019_unknown_column_is_a_clear_error(factory):
    build_case(factory)
    with pytest.raises(UnknownField, match="Salary"):
        opco_log_header(factory.s, global_scope(), OpcoLogFilters(columns=("Company", "Salary")))


# -- scopes ------------------------------------------------------------------------------------


def staff(factory, user_id, *roles):
    factory.user(user_id, last="Staff", email=f"{user_id}@example.org", roles=roles)
    return load_scope(factory.s, user_id)


def test_opco020_session_instructor_gets_only_their_session(factory):
    build_case(factory)
    scope = staff(factory, "teacher", "session_instructor:s-c")
    assert keys(factory.s, scope) == [("a@example.org", "s-c", "20/01/2026 11:00")]
    assert keys(factory.s, scope, session_ids=("s-c",)) == [("a@example.org", "s-c", "20/01/2026 11:00")]


def test_opco021_training_manager_gets_only_their_trainings_sessions(factory):
    build_case(factory)
    scope = staff(factory, "manager", "training_manager:t-man")
    assert keys(factory.s, scope) == [("eloise@example.org", "s-b", "05/01/2026 10:00")]
    security = staff(factory, "manager2", "training_manager:t-sec")
    assert {k[1] for k in keys(factory.s, security)} == {"s-a", "s-c"}
    assert len(rows(factory.s, security)) == 7


def test_opco022_learners_and_class_managers_are_refused(factory):
    case = build_case(factory)
    eloise = case["users"][0]
    factory.klass("c1", members=(eloise,), trainings=case["trainings"])
    for scope in (load_scope(factory.s, "u-oe"), staff(factory, "cm", "class_manager:c1")):
        with pytest.raises(Forbidden):
            iter_opco_logs_csv(factory.s, scope, OpcoLogFilters(), PARIS)
        with pytest.raises(Forbidden):
            opco_log_header(factory.s, scope, OpcoLogFilters())
        with pytest.raises(Forbidden):
            write_opco_logs_xlsx(factory.s, scope, OpcoLogFilters(), PARIS, io.BytesIO())


def test_opco023_forged_session_id_is_forbidden_at_call_time(factory):
    build_case(factory)
    teacher = staff(factory, "teacher", "session_instructor:s-c")
    manager = staff(factory, "manager", "training_manager:t-man")
    for scope, forged in ((teacher, "s-a"), (manager, "s-c"), (teacher, "no-such-session")):
        filters = OpcoLogFilters(session_ids=(forged,))
        # Refused when called, before a single byte could be streamed.
        with pytest.raises(Forbidden):
            iter_opco_logs_csv(factory.s, scope, filters, PARIS)
        with pytest.raises(Forbidden):
            iter_opco_log_rows(factory.s, scope, filters, PARIS)
        with pytest.raises(Forbidden):
            write_opco_logs_xlsx(factory.s, scope, filters, PARIS, io.BytesIO())
        # Mixed with an allowed session: still refused, not silently narrowed.
        allowed = "s-c" if scope is teacher else "s-b"
        with pytest.raises(Forbidden):
            iter_opco_log_rows(factory.s, scope, OpcoLogFilters(session_ids=(allowed, forged)), PARIS)


def test_opco024_other_filters_cannot_widen_the_scope(factory):
    build_case(factory)
    scope = staff(factory, "teacher", "session_instructor:s-c")
    assert rows(factory.s, scope, user_ids=("u-oe",)) == []
    assert (
        rows(factory.s, Scope(user_id="x", sessions=frozenset({"s-b"})), user_ids=("u-oe",))[0][-7] == "s-b"
    )


# -- streaming ---------------------------------------------------------------------------------


def add_many_connections(factory, count: int, people: int = 30):
    training = factory.training("t-big", name="Big")
    module = factory.module("m-big", name="Course")
    program_session = factory.session(training, "s-big", name="Big session")
    users = [
        factory.user(f"big{i:02d}", last=f"Learner {i:02d}", first="A", labels=(f"L{i}",))
        for i in range(people)
    ]
    start = datetime(2026, 1, 5, 8, 0)
    factory.s.add_all(
        m.Connection(
            user_id=users[i % people].id,
            module_id=module.id,
            connected_at=start + timedelta(minutes=i),
            disconnected_at=start + timedelta(minutes=i, seconds=90),
            session_id=program_session.id,
        )
        for i in range(count)
    )
    factory.s.flush()


def test_opco030_csv_streams_in_chunks_read_lazily(factory, db):
    add_many_connections(factory, 2500)
    statements: list[tuple[str, dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, dict(context.execution_options)))

    event.listen(db.engine, "after_cursor_execute", record)
    try:
        chunks = iter_opco_logs_csv(factory.s, global_scope(), OpcoLogFilters(), PARIS)
        header = next(chunks)
        assert header.startswith(BOM) and header.endswith(b"Time spent\r\n")
        first = next(chunks)
        assert first.count(b"\r\n") == 1000
        # The main query asked for a streamed result (a server-side cursor on PostgreSQL).
        [main] = [options for statement, options in statements if "FROM connections" in statement]
        assert main.get("yield_per") == 1000 and main.get("stream_results")
        label_queries = [s for s, _ in statements if "FROM user_labels" in s]
        assert len(label_queries) == 1
        rest = list(chunks)
    finally:
        event.remove(db.engine, "after_cursor_execute", record)
    assert [chunk.count(b"\r\n") for chunk in rest] == [1000, 500]
    # One labels query per batch, not per row nor one for everything up front.
    assert len([s for s, _ in statements if "FROM user_labels" in s]) == 3
    data = parse(header + first + b"".join(rest))
    assert len(data) == 2501
    assert [row[0] for row in data[1:]] == sorted(row[0] for row in data[1:])
    assert {row[4] for row in data[1:] if row[0] == "Learner 07"} == {"L7"}
    assert {row[-1] for row in data[1:]} == {"00:00:02"}


def test_opco031_rows_are_not_fetched_ahead(factory, db):
    add_many_connections(factory, 2500)
    cursors: list = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM connections" in statement:
            cursors.append(cursor)

    event.listen(db.engine, "after_cursor_execute", record)
    try:
        data = iter_opco_log_rows(factory.s, global_scope(), OpcoLogFilters(), PARIS)
        next(data)
    finally:
        event.remove(db.engine, "after_cursor_execute", record)
    [cursor] = cursors
    # The database cursor still holds the rows after the first batch: they were not all loaded.
    left = cursor.fetchall()
    assert len(left) == 1500
    data.close()


# -- command line ------------------------------------------------------------------------------


def test_opco040_cli_writes_csv_and_xlsx(dash_app, factory, tmp_path):
    build_case(factory)
    factory.s.commit()
    runner = dash_app.server.test_cli_runner()

    out = tmp_path / "logs.csv"
    result = runner.invoke(args=["export-opco-logs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == EXPECTED_CSV

    out_semicolon = tmp_path / "logs-semicolon.csv"
    result = runner.invoke(args=["export-opco-logs", "--out", str(out_semicolon), "--delimiter", ";"])
    assert result.exit_code == 0, result.output
    assert out_semicolon.read_bytes() == EXPECTED_CSV_SEMICOLON

    out_xlsx = tmp_path / "logs.xlsx"
    result = runner.invoke(args=["export-opco-logs", "--out", str(out_xlsx)])
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out_xlsx).active
    assert [[shown(cell) for cell in row] for row in sheet.iter_rows()] == parse(EXPECTED_CSV)

    forced = tmp_path / "logs.data"
    result = runner.invoke(args=["export-opco-logs", "--out", str(forced), "--format", "xlsx"])
    assert result.exit_code == 0, result.output
    assert forced.read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_opco041_cli_filters(dash_app, factory, tmp_path):
    case = build_case(factory)
    factory.klass("c1", members=case["users"][1:2])
    factory.s.commit()
    runner = dash_app.server.test_cli_runner()
    out = tmp_path / "filtered.csv"
    args = [
        "export-opco-logs",
        "--out",
        str(out),
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--session",
        "s-a",
        "--session",
        "s-b",
        "--field",
        "Company=ACME",
        "--field",
        "Company=Initech",
        "--columns",
        "Funding",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    data = parse(out.read_bytes())
    assert data[0][3:5] == ["Funding", "Additional information"]
    assert [(row[2], row[-7], row[-3]) for row in data[1:]] == [
        ("eloise@example.org", "s-a", "10/01/2026 09:00"),
        ("eloise@example.org", "s-a", "10/01/2026 09:00"),
        ("eloise@example.org", "s-b", "05/01/2026 10:00"),
    ]
    result = runner.invoke(args=["export-opco-logs", "--out", str(out), "--group", "c1", "--user", "u-alv"])
    assert result.exit_code == 0, result.output
    assert [row[2] for row in parse(out.read_bytes())[1:]] == ["marc@example.org"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--session", "no-such-session"], "unknown session id(s): no-such-session"),
        (["--from", "2026-02-30"], "--from: '2026-02-30' is not a date"),
        (["--to", "01/02/2026"], "--to: '01/02/2026' is not a date"),
        (["--field", "Company"], "--field: 'Company' is not NAME=VALUE"),
        (["--field", "=ACME"], "--field: '=ACME' is not NAME=VALUE"),
        (["--columns", "Company,Salary"], "unknown custom field column(s): Salary"),
        (["--from", "2026-02-02", "--to", "2026-02-01"], "after the end date"),
    ],
)
def test_opco042_cli_errors_leave_no_file(dash_app, factory, tmp_path, extra, message):
    build_case(factory)
    factory.s.commit()
    out = tmp_path / "exports" / "logs.csv"
    out.parent.mkdir()
    result = dash_app.server.test_cli_runner().invoke(args=["export-opco-logs", "--out", str(out), *extra])
    assert result.exit_code == 1
    assert message in result.stderr
    assert list(out.parent.iterdir()) == []


def test_opco043_cli_unknown_extension_needs_format(dash_app, tmp_path):
    out = tmp_path / "logs.txt"
    result = dash_app.server.test_cli_runner().invoke(args=["export-opco-logs", "--out", str(out)])
    assert result.exit_code == 1
    assert "--format" in result.stderr
    assert not out.exists()
