"""The summary layer's upkeep when a write only ADDS connections and logins (issue 17).

A bundle of a million connections names most learners of a platform; recomputing every summary
of each of them (data/summaries.py `_refresh`) reads and rewrites the whole summary layer. New
connections and logins change far less, and only by adding:

- the per-user event tables: summary_user_module_days, summary_user_modules, summary_user_days
  and summary_session_users (counts, seconds, first and last connection);
- each pair's time spent (its training's modules) and last active day, and each counted
  learner's last active day;
- the groups' time: summary_group_status.time_spent, summary_group_modules.time_learners and
  time_spent;
- summary_active_periods (a learner active on a day, week or month they were not before) and
  summary_sessions (learners, players).

`apply` adds the new rows' share to those rows, a chunk of learners at a time (memory stays
bounded whatever the number of rows). It is exact: times are summed in whole milliseconds
(data/summaries.py `_ms`, `_to_ms`), so a stored sum plus the new terms is the same number a
rebuild computes; tests/unit/test_summaries.py compares every summary table with a rebuild.
Rows must be new (not stored before this write); data/summaries.py `mark(connections=...,
logins=...)` says so, and anything else a write touched sends the learners through the full
per-learner refresh instead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from data import models as m
from data import summaries as sm

# Learners handled together: their rows are read in a few queries and written in batches.
USERS_PER_CHUNK = 2000

# A connection as summaries.mark takes it: (user_id, module_id, connected_at, disconnected_at,
# session_id), naive UTC instants (the columns of connections); a login: (user_id, logged_in_at).
Connection = tuple[str, str, datetime, datetime, str | None]
Login = tuple[str, datetime]


class _Totals:
    """What the chunks add to the group and platform-wide tables, applied once at the end."""

    def __init__(self) -> None:
        self.status_ms: Counter = Counter()  # (class, training, status) -> milliseconds
        self.module_ms: Counter = Counter()  # (class, training, module) -> milliseconds
        self.module_learners: Counter = Counter()  # (class, training, module) -> learners
        # populations -> period code (_SpanCodes) -> learners newly active in it
        self.period_codes: dict[frozenset, Counter] = defaultdict(Counter)
        self.sessions: set[str] = set()


def apply(session: Session, connections: Iterable[Connection], logins: Iterable[Login], tz: ZoneInfo) -> None:
    """Add new connections and logins (not stored before this write) to the summary tables."""
    conns: dict[str, list] = defaultdict(list)
    for row in connections:
        conns[row[0]].append(row)
    logs: dict[str, list] = defaultdict(list)
    for user_id, at in logins:
        logs[user_id].append(at)
    users = sorted(conns.keys() | logs.keys())
    if not users:
        return
    steps: dict[str, set[str]] = defaultdict(set)  # training -> its modules
    for training_id, module_id in session.execute(
        select(m.TrainingModule.training_id, m.TrainingModule.module_id)
    ):
        steps[training_id].add(module_id)
    registered: dict[str, set[str]] = defaultdict(set)  # training -> classes registered to it
    for class_id, training_id in session.execute(
        select(m.ClassTraining.class_id, m.ClassTraining.training_id)
    ):
        registered[training_id].add(class_id)
    totals = _Totals()
    day_of = sm._DayCache(tz)
    for chunk in sm._chunks(users, USERS_PER_CHUNK):
        _apply_chunk(session, chunk, conns, logs, steps, registered, day_of, totals)
        for user_id in chunk:  # what is done is freed
            conns.pop(user_id, None)
            logs.pop(user_id, None)
    _apply_group_times(session, totals)
    periods: Counter = Counter()  # (population, unit, start) -> learners
    for populations, counts in totals.period_codes.items():
        for code, n in counts.items():
            unit, start = _SpanCodes.period(code)
            for population in populations:
                periods[(population, unit, start)] += n
    _apply_periods(session, periods)
    if totals.sessions:
        sm._refresh_sessions(session, sorted(totals.sessions))


def _apply_chunk(
    session: Session,
    users: list[str],
    conns: dict[str, list],
    logs: dict[str, list],
    steps: dict[str, set[str]],
    registered: dict[str, set[str]],
    day_of: sm._DayCache,
    totals: _Totals,
) -> None:
    module_days: dict[tuple, list] = {}  # (user, module, day) -> [connections, ms]
    modules: dict[tuple, list] = {}  # (user, module) -> [connections, ms]
    days: dict[tuple, list] = {}  # (user, day) -> [logins, connections]
    in_sessions: dict[tuple, list] = {}  # (session, user) -> [connections, ms, first, last]
    last_new: dict[str, date] = {}  # user -> their latest new active day
    ms_of = sm._ms
    for user_id in users:
        for _, module_id, start, end, session_id in conns.get(user_id, ()):
            ms = ms_of(start, end)
            day = day_of(start)
            acc = module_days.get((user_id, module_id, day))
            if acc is None:
                module_days[(user_id, module_id, day)] = [1, ms]
            else:
                acc[0] += 1
                acc[1] += ms
            acc = modules.get((user_id, module_id))
            if acc is None:
                modules[(user_id, module_id)] = [1, ms]
            else:
                acc[0] += 1
                acc[1] += ms
            acc = days.get((user_id, day))
            if acc is None:
                days[(user_id, day)] = [0, 1]
            else:
                acc[1] += 1
            if session_id is not None:
                acc = in_sessions.get((session_id, user_id))
                if acc is None:
                    in_sessions[(session_id, user_id)] = [1, ms, start, end]
                else:
                    acc[0] += 1
                    acc[1] += ms
                    acc[2] = min(acc[2], start)
                    acc[3] = max(acc[3], end)
        for at in logs.get(user_id, ()):
            days.setdefault((user_id, day_of(at)), [0, 0])[0] += 1
    for user_id, day in days:
        if day > last_new.get(user_id, sm.NO_DAY):
            last_new[user_id] = day
    new_ms: dict[str, dict[str, int]] = defaultdict(dict)  # user -> module -> new milliseconds
    for (user_id, module_id), (_, ms) in modules.items():
        new_ms[user_id][module_id] = ms
    new_module_days: dict[str, dict[str, list[date]]] = defaultdict(lambda: defaultdict(list))
    for user_id, module_id, day in module_days:
        new_module_days[user_id][module_id].append(day)
    # On SQLite the rows go to the driver as text: each day is formatted once.
    day_text = _day_formatter(session)

    # What is stored for these learners.
    um, ud, su = m.SummaryUserModule, m.SummaryUserDay, m.SummarySessionUser
    old_modules = {
        (u, mod): (n, sm._to_ms(s))
        for u, mod, n, s in sm._rows(session, select(um.user_id, um.module_id, um.connections, um.seconds), um.user_id, users)
    }  # fmt: skip
    old_days: dict[str, set[date]] = defaultdict(set)
    for user_id, day in sm._rows(session, select(ud.user_id, ud.day), ud.user_id, users):
        old_days[user_id].add(day)
    old_sessions = {
        (s, u): (reg, n, first, last, sm._to_ms(spent))
        for s, u, reg, n, first, last, spent in sm._rows(
            session,
            select(su.session_id, su.user_id, su.registered, su.connections, su.first_connection,
                   su.last_connection, su.time_spent),
            su.user_id,
            users,
        )
    }  # fmt: skip

    # The per-user event tables.
    _upsert(
        session,
        m.SummaryUserModuleDay,
        ("user_id", "module_id", "day", "connections", "seconds"),
        [(u, mod, day_text(d), n, ms / 1000) for (u, mod, d), (n, ms) in module_days.items()],
        {
            "connections": "{t}.connections + excluded.connections",
            "seconds": _ADD_SECONDS.format(col="seconds"),
        },
        ready=True,
    )
    new_modules: dict[tuple, tuple[int, int]] = {}
    for key, (n, ms) in modules.items():
        old_n, old_ms = old_modules.get(key, (0, 0))
        new_modules[key] = (old_n + n, old_ms + ms)
    _upsert(
        session,
        um,
        ("user_id", "module_id", "connections", "seconds"),
        [(u, mod, n, ms / 1000) for (u, mod), (n, ms) in new_modules.items()],
        {"connections": "excluded.connections", "seconds": "excluded.seconds"},
        ready=True,
    )
    _upsert(
        session,
        ud,
        ("user_id", "day", "logins", "connections"),
        [(u, day_text(d), lg, n) for (u, d), (lg, n) in days.items()],
        {"logins": "{t}.logins + excluded.logins", "connections": "{t}.connections + excluded.connections"},
        ready=True,
    )
    session_rows = []
    for key, (n, ms, first, last) in in_sessions.items():
        reg, old_n, old_first, old_last, old_ms = old_sessions.get(key, (False, 0, None, None, 0))
        session_rows.append(
            (
                *key,
                reg,
                old_n + n,
                first if old_first is None else min(first, old_first),
                last if old_last is None else max(last, old_last),
                (old_ms + ms) / 1000,
            )
        )
        totals.sessions.add(key[0])
    _upsert(
        session,
        su,
        ("session_id", "user_id", "registered", "connections", "first_connection", "last_connection", "time_spent"),
        session_rows,
        {c: f"excluded.{c}" for c in ("connections", "first_connection", "last_connection", "time_spent")},
    )  # fmt: skip

    # Pairs and learners: time spent, last active day; the groups' share of the new time.
    p, lr, cl, cm = m.SummaryPair, m.SummaryLearner, m.SummaryClassLearner, m.ClassMember
    classes_of: dict[str, set[str]] = defaultdict(set)
    for class_id, user_id in sm._rows(session, select(cm.class_id, cm.user_id), cm.user_id, users):
        classes_of[user_id].add(class_id)
    populations: dict[str, set[str]] = defaultdict(set)
    pair_updates = []
    pair_days = []  # SPEC §9's activity days in a training: a connection to one of its modules
    for user_id, training_id, counted, status, spent, last_active, last_activity in sm._rows(
        session,
        select(p.user_id, p.training_id, p.counted, p.status, p.time_spent, p.last_active_day,
               p.last_activity_day),
        p.user_id,
        users,
    ):  # fmt: skip
        old_ms = sm._to_ms(spent)
        pair_ms = old_ms
        in_training = steps.get(training_id, _NONE)
        touched_modules = [mod for mod in new_ms.get(user_id, _NONE) if mod in in_training]
        for module_id in touched_modules:
            pair_ms += new_ms[user_id][module_id]
        new_last = _later(last_active, last_new.get(user_id))
        activity = last_activity
        for module_id in touched_modules:
            for day in new_module_days[user_id][module_id]:
                pair_days.append((user_id, training_id, day_text(day)))
                activity = _later(activity, day)
        if pair_ms != old_ms or new_last != last_active or activity != last_activity:
            pair_updates.append({"k_user": user_id, "k_training": training_id, "v_time": pair_ms / 1000,
                                 "v_last": new_last, "v_activity": activity})  # fmt: skip
        if not counted:
            continue
        populations[user_id].add(f"t:{training_id}")
        groups = [""] + [c for c in classes_of.get(user_id, ()) if c in registered.get(training_id, ())]
        for class_id in groups:
            if pair_ms != old_ms:
                totals.status_ms[(class_id, training_id, status)] += pair_ms - old_ms
            for module_id in touched_modules:
                key = (class_id, training_id, module_id)
                totals.module_ms[key] += new_ms[user_id][module_id]
                if (user_id, module_id) not in old_modules:
                    totals.module_learners[key] += 1
    if pair_updates:
        session.connection().execute(
            p.__table__.update()
            .where(p.user_id == bindparam("k_user"), p.training_id == bindparam("k_training"))
            .values(
                time_spent=bindparam("v_time"),
                last_active_day=bindparam("v_last"),
                last_activity_day=bindparam("v_activity"),
            ),
            pair_updates,
        )
    _upsert(
        session,
        m.SummaryPairDay,
        ("user_id", "training_id", "day"),
        sorted(set(pair_days)),
        {"day": "excluded.day"},
        ready=True,
    )
    learner_updates = []
    for user_id, last_active in sm._rows(session, select(lr.user_id, lr.last_active_day), lr.user_id, users):
        populations[user_id].add("")
        new_last = _later(last_active, last_new.get(user_id))
        if new_last != last_active:
            learner_updates.append({"k_user": user_id, "v_last": new_last})
    if learner_updates:
        session.connection().execute(
            lr.__table__.update()
            .where(lr.user_id == bindparam("k_user"))
            .values(last_active_day=bindparam("v_last")),
            learner_updates,
        )
    for class_id, user_id in sm._rows(session, select(cl.class_id, cl.user_id), cl.user_id, users):
        populations[user_id].add(f"c:{class_id}")

    # Active periods: a learner counts once per day, week and month of their populations.
    new_days: dict[str, set[date]] = defaultdict(set)
    for user_id, day in days:
        if user_id in populations and day not in old_days.get(user_id, ()):
            new_days[user_id].add(day)
    codes = _SpanCodes()
    for user_id, fresh in new_days.items():
        before: set[int] = set()
        for day in old_days.get(user_id, ()):
            before.update(codes(day))
        gained: set[int] = set()
        for day in fresh:
            gained.update(codes(day))
        gained -= before
        # Counted per set of populations (learners share a few), spread over them at the end.
        totals.period_codes[frozenset(populations[user_id])].update(gained)


_NONE: frozenset = frozenset()


def _day_formatter(session: Session):
    """day -> its value for the driver: SQLAlchemy's SQLite text (memoised), else the date."""
    if session.connection().dialect.name != "sqlite":
        return lambda day: day
    cache: dict[date, str] = {}

    def text(day: date) -> str:
        found = cache.get(day)
        if found is None:
            found = cache[day] = day.isoformat()
        return found

    return text


_UNITS = ("day", "week", "month")


class _SpanCodes:
    """A day's periods (summaries._period_starts) as three integers, memoised: start ordinal x 3
    + unit. Sets of integers are what the active-period upkeep builds by the million."""

    def __init__(self) -> None:
        self.cache: dict[date, tuple[int, int, int]] = {}

    def __call__(self, day: date) -> tuple[int, int, int]:
        found = self.cache.get(day)
        if found is None:
            found = self.cache[day] = tuple(
                start.toordinal() * 3 + _UNITS.index(unit) for unit, start in sm._period_starts(day)
            )  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    @staticmethod
    def period(code: int) -> tuple[str, date]:
        return _UNITS[code % 3], date.fromordinal(code // 3)


def _later(a: date | None, b: date | None) -> date | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _apply_group_times(session: Session, totals: _Totals) -> None:
    """summary_group_status.time_spent and summary_group_modules' time columns += the chunks'."""
    gs, gm = m.SummaryGroupStatus, m.SummaryGroupModule
    trainings = sorted({t for _, t, _ in totals.status_ms} | {t for _, t, _ in totals.module_ms})
    if not trainings:
        return
    stored_status = {
        (c, t, s): sm._to_ms(spent)
        for c, t, s, spent in sm._rows(
            session, select(gs.class_id, gs.training_id, gs.status, gs.time_spent), gs.training_id, trainings
        )
    }
    broken: set[str] = set()  # trainings whose group rows are not as expected: recomputed
    status_rows = []
    for key, ms in totals.status_ms.items():
        if key not in stored_status:
            broken.add(key[1])
            continue
        status_rows.append(
            {"k_c": key[0], "k_t": key[1], "k_s": key[2], "v_time": (stored_status[key] + ms) / 1000}
        )
    if status_rows:
        session.connection().execute(
            gs.__table__.update()
            .where(
                gs.class_id == bindparam("k_c"),
                gs.training_id == bindparam("k_t"),
                gs.status == bindparam("k_s"),
            )
            .values(time_spent=bindparam("v_time")),
            status_rows,
        )
    stored_modules = {
        (c, t, mod): (n, sm._to_ms(spent))
        for c, t, mod, n, spent in sm._rows(
            session,
            select(gm.class_id, gm.training_id, gm.module_id, gm.time_learners, gm.time_spent),
            gm.training_id,
            trainings,
        )
    }
    module_rows = []
    for key in totals.module_ms.keys() | totals.module_learners.keys():
        if key[1] in broken:
            continue
        n, ms = stored_modules.get(key, (0, 0))
        module_rows.append(
            (*key, 0, 0, 0.0, n + totals.module_learners[key], (ms + totals.module_ms[key]) / 1000)
        )
    _upsert(
        session,
        gm,
        ("class_id", "training_id", "module_id", "completed", "passed", "score_sum", "time_learners", "time_spent"),
        module_rows,
        {"time_learners": "excluded.time_learners", "time_spent": "excluded.time_spent"},
    )  # fmt: skip
    if broken:
        sm._refresh_groups(session, sorted(broken))


def _apply_periods(session: Session, gained: Counter) -> None:
    """summary_active_periods += the learners newly active in each period."""
    if not gained:
        return
    ap = m.SummaryActivePeriod
    current: dict[tuple, int] = {}
    for population in sorted({k[0] for k in gained}):
        for unit, start, learners in session.execute(
            select(ap.unit, ap.start, ap.learners).where(ap.population == population)
        ):
            if (population, unit, start) in gained:
                current[(population, unit, start)] = learners
    _upsert(
        session,
        ap,
        ("population", "unit", "start", "learners"),
        [(*key, current.get(key, 0) + n) for key, n in gained.items()],
        {"learners": "excluded.learners"},
    )


# A sum of seconds stored as ms / 1000 plus another: whole milliseconds added, then / 1000.
_ADD_SECONDS = "(round({{t}}.{col} * 1000) + round(excluded.{col} * 1000)) / CAST(1000 AS DOUBLE PRECISION)"


def _upsert(
    session: Session,
    model,
    columns: tuple[str, ...],
    rows: list[tuple],
    assign: dict[str, str],
    ready: bool = False,
) -> None:
    """INSERT rows, or on a primary-key conflict SET each column of `assign` to its SQL
    expression ({t} the table, `excluded` the new row): SQLite and PostgreSQL alike.
    ready: the rows' dates are already as the driver takes them (_day_formatter)."""
    if not rows:
        return
    table = model.__table__
    keys = [c.name for c in table.primary_key.columns]
    sets = ", ".join(f"{c} = {expr.format(t=table.name)}" for c, expr in assign.items())
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # Values in the formats SQLAlchemy's SQLite dialect stores (summaries._insert).
        converted = [(i, sm._sqlite_value(sm._kind(table.c[c]))) for i, c in enumerate(columns)]
        converted = [] if ready else [(i, f) for i, f in converted if f is not None]
        sql = head + "(" + ", ".join("?" * len(columns)) + ")" + tail
        for batch in sm._chunks(rows, sm.INSERT_BATCH):
            values = batch
            if converted:
                values = []
                for row in batch:
                    row = list(row)
                    for i, f in converted:
                        row[i] = f(row[i])
                    values.append(tuple(row))
            connection.exec_driver_sql(sql, values)
        return
    stmt = text(head + "(" + ", ".join(f":{c}" for c in columns) + ")" + tail)
    for batch in sm._chunks(rows, sm.INSERT_BATCH):
        connection.execute(stmt, [dict(zip(columns, row, strict=True)) for row in batch])
