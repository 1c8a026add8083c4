"""The table of which write refreshes which summary table (data/summaries.py REFRESHES): every
raw table is listed, every summary table is reached, and its keys name real columns."""

from __future__ import annotations

import dataclasses

from data import models as m
from data.summaries import REFRESHES, Touched, reached_tables

RAW_TABLES = {
    mapper.class_.__tablename__
    for mapper in m.Base.registry.mappers
    if mapper.class_ not in m.SUMMARY_TABLES and mapper.class_ is not m.SummaryMeta
}


def test_every_raw_table_is_listed_and_nothing_else():
    assert set(REFRESHES) == RAW_TABLES
    assert {
        "users",
        "enrollments",
        "class_members",
        "attempts",
        "answers",
        "connections",
        "logins",
    } <= RAW_TABLES


def test_every_summary_table_is_reached_by_some_write():
    reached = {table for refresh in REFRESHES.values() for table in refresh.tables}
    assert reached == set(m.SUMMARY_TABLES)
    assert reached_tables(None) == set(m.SUMMARY_TABLES)


def test_keys_name_columns_of_their_table_and_what_touched_holds():
    kinds = {f.name for f in dataclasses.fields(Touched) if f.type == "set[str]"}
    tables = {mapper.class_.__tablename__: mapper.class_.__table__ for mapper in m.Base.registry.mappers}
    for name, refresh in REFRESHES.items():
        for column, kind in refresh.keys:
            assert column in tables[name].c, f"{name}.{column}"
            assert kind in kinds, f"{name}: {kind}"
        # A write that changes summary rows says whose; one that changes none names nobody.
        assert bool(refresh.keys) == bool(refresh.tables), name


def test_reached_tables_of_a_few_writes():
    assert reached_tables([]) == set()
    assert reached_tables(["trainings", "user_labels"]) == set()
    logins = reached_tables(["logins"])
    assert m.SummaryActivePeriod in logins and m.SummaryUserDay in logins
    assert not logins & set(m.GROUP_TABLES) and m.SummarySession not in logins
    attempts = reached_tables(["attempts", "answers"])
    assert set(m.GROUP_TABLES) <= attempts and m.SummaryActivePeriod not in attempts
    assert reached_tables(["logins", "session_learners"]) == logins | {m.SummarySessionUser, m.SummarySession}
