"""SPEC §6: what each role sees, from the roles table (auth.roles.load_scope) to SQL rows.

One small platform serves every test:

    trainings  T1, T2, T3
    classes    C1 registered to T1 and T2; C2 registered to T3
    sessions   S1 and S2 of T1; S3 of T3
    learners   a1 enrolled in T1, a2 in T2, o3 in T3 (directly);
               m1 member of C1 (so in T1 and T2); m2 member of C1 and enrolled in T3;
               m3 member of C2 (so in T3)
    managers   training manager of T1 (tm), class manager of C1 (cm, itself enrolled in T3),
               instructor of S1 (si), one user with two roles (training_manager T3 +
               class_manager C1), and one user per global role.

Every expected set below is listed by hand.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from auth.roles import load_scope
from data.models import ProgramSession, Training, TrainingLearner
from data.scope import Forbidden

ALL_TRAININGS = {"T1", "T2", "T3"}
ALL_SESSIONS = {"S1", "S2", "S3"}
ALL_CLASSES = {"C1", "C2"}
LEARNERS = ("a1", "a2", "o3", "m1", "m2", "m3", "cm")
ALL_PAIRS = {
    ("T1", "a1"),
    ("T2", "a2"),
    ("T3", "o3"),
    ("T1", "m1"),
    ("T2", "m1"),
    ("T1", "m2"),
    ("T2", "m2"),
    ("T3", "m2"),
    ("T3", "m3"),
    ("T3", "cm"),
}


@pytest.fixture
def s(factory):
    f = factory
    t1, t2, t3 = f.training("T1"), f.training("T2"), f.training("T3")
    a1, a2, o3 = f.user("a1"), f.user("a2"), f.user("o3")
    m1, m2, m3 = f.user("m1"), f.user("m2"), f.user("m3")
    f.user("tm", roles=["training_manager:T1"])
    cm = f.user("cm", roles=["class_manager:C1"])
    f.user("si", roles=["session_instructor:S1"])
    f.user("two", roles=["training_manager:T3", "class_manager:C1"])
    for role in ("admin", "global_user_manager", "statistics_manager"):
        f.user(role, roles=[role])
    f.enroll(a1, t1)
    f.enroll(a2, t2)
    f.enroll(o3, t3)
    f.enroll(m2, t3)
    f.enroll(cm, t3)
    f.klass("C1", members=[m1, m2], trainings=[t1, t2])
    f.klass("C2", members=[m3], trainings=[t3])
    f.session(t1, "S1", learners=[a1, m1])
    f.session(t1, "S2", learners=[m2])
    f.session(t3, "S3", learners=[o3])
    # The world is as described above (the rest of the file relies on it).
    assert rows(f.s, select(TrainingLearner.training_id, TrainingLearner.user_id)) == ALL_PAIRS
    return f.s


def rows(s, query) -> set[tuple[str, ...]]:
    return {tuple(row) for row in s.execute(query)}


def pairs(s, scope, include_self=False) -> set[tuple[str, str]]:
    """(training, learner) pairs of training_learners that pair_filter lets through."""
    condition = scope.pair_filter(TrainingLearner.user_id, TrainingLearner.training_id, include_self)
    query = select(TrainingLearner.training_id, TrainingLearner.user_id).where(condition)
    return rows(s, query)


def trainings(s, scope) -> set[str]:
    return set(s.scalars(select(Training.id).where(scope.training_filter(Training.id))))


def training_rows(s, scope) -> set[tuple[str, str]]:
    """training_learners rows of the trainings training_filter lets through."""
    condition = scope.training_filter(TrainingLearner.training_id)
    return rows(s, select(TrainingLearner.training_id, TrainingLearner.user_id).where(condition))


def sessions(s, scope) -> set[str]:
    condition = scope.session_filter(ProgramSession.id, ProgramSession.training_id)
    return set(s.scalars(select(ProgramSession.id).where(condition)))


def visible(s, scope, check, ids) -> set[str]:
    """The ids among ids for which check (a Scope method) says yes."""
    method = getattr(scope, check)
    if check in ("can_view_session", "can_view_learner"):
        return {i for i in ids if method(s, i)}
    return {i for i in ids if method(i)}


@pytest.mark.parametrize("role", ["admin", "global_user_manager", "statistics_manager"])
def test_scp001_global_roles_see_everything(s, role):
    scope = load_scope(s, role)
    assert scope.is_global
    assert scope.is_manager
    assert scope.is_admin == (role == "admin")
    assert scope.managed_training_ids() is None
    assert visible(s, scope, "can_view_training_page", ALL_TRAININGS | {"T-unknown"}) == ALL_TRAININGS | {
        "T-unknown"
    }
    assert visible(s, scope, "can_view_class", ALL_CLASSES) == ALL_CLASSES
    assert visible(s, scope, "can_view_session", ALL_SESSIONS) == ALL_SESSIONS
    assert visible(s, scope, "can_view_learner", LEARNERS) == set(LEARNERS)
    assert pairs(s, scope) == ALL_PAIRS
    assert trainings(s, scope) == ALL_TRAININGS
    assert training_rows(s, scope) == ALL_PAIRS
    assert sessions(s, scope) == ALL_SESSIONS


def test_scp002_training_manager_sees_their_training_only(s):
    scope = load_scope(s, "tm")
    assert not scope.is_global
    assert scope.is_manager
    assert not scope.is_admin
    assert scope.managed_training_ids() == {"T1"}
    assert visible(s, scope, "can_view_training_page", ALL_TRAININGS) == {"T1"}
    assert visible(s, scope, "can_view_class", ALL_CLASSES) == set()
    # The sessions of their training, not the others.
    assert visible(s, scope, "can_view_session", ALL_SESSIONS | {"S-unknown"}) == {"S1", "S2"}
    # Learners of T1 (directly or through a class), and themselves; not a2, o3, m3, cm.
    assert visible(s, scope, "can_view_learner", (*LEARNERS, "tm")) == {"a1", "m1", "m2", "tm"}
    # Those learners' figures limited to T1: m1's and m2's other trainings are left out.
    assert pairs(s, scope) == {("T1", "a1"), ("T1", "m1"), ("T1", "m2")}
    assert trainings(s, scope) == {"T1"}
    assert training_rows(s, scope) == {("T1", "a1"), ("T1", "m1"), ("T1", "m2")}
    assert sessions(s, scope) == {"S1", "S2"}


def test_scp003_class_manager_sees_members_in_the_class_trainings(s):
    """C1 is registered to T1 and T2: its members there, not the other learners of T1/T2."""
    scope = load_scope(s, "cm")
    assert not scope.is_global
    assert scope.is_manager
    assert scope.managed_training_ids() == {"T1", "T2"}
    # The global page (filtered), C1's page; no training page and no session page.
    assert visible(s, scope, "can_view_training_page", ALL_TRAININGS) == set()
    assert visible(s, scope, "can_view_class", ALL_CLASSES) == {"C1"}
    assert visible(s, scope, "can_view_session", ALL_SESSIONS) == set()
    # C1's members and themselves; a1 (in T1) and a2 (in T2) are not C1 members.
    assert visible(s, scope, "can_view_learner", LEARNERS) == {"m1", "m2", "cm"}
    # Members' figures limited to C1's trainings: m2's T3 is left out, and so is the manager's own.
    assert pairs(s, scope) == {("T1", "m1"), ("T2", "m1"), ("T1", "m2"), ("T2", "m2")}
    assert pairs(s, scope, include_self=True) == {
        ("T1", "m1"),
        ("T2", "m1"),
        ("T1", "m2"),
        ("T2", "m2"),
        ("T3", "cm"),
    }
    # training_filter picks the trainings only: combined with pair_filter it gives the members.
    assert trainings(s, scope) == {"T1", "T2"}
    assert training_rows(s, scope) == {("T1", "a1"), ("T2", "a2"), ("T1", "m1"), ("T2", "m1")} | {
        ("T1", "m2"),
        ("T2", "m2"),
    }
    assert sessions(s, scope) == set()


def test_scp004_session_instructor_sees_their_session_only(s):
    scope = load_scope(s, "si")
    assert not scope.is_global
    assert not scope.is_manager
    assert not scope.is_learner_only
    assert scope.managed_training_ids() == frozenset()
    # S1 only, not S2 although it is a session of the same training.
    assert visible(s, scope, "can_view_session", ALL_SESSIONS) == {"S1"}
    assert visible(s, scope, "can_view_training_page", ALL_TRAININGS) == set()
    assert visible(s, scope, "can_view_class", ALL_CLASSES) == set()
    # No learner pages (S1's learners a1 and m1 included), only their own.
    assert visible(s, scope, "can_view_learner", (*LEARNERS, "si")) == {"si"}
    assert pairs(s, scope) == set()
    assert trainings(s, scope) == set()
    assert training_rows(s, scope) == set()
    assert sessions(s, scope) == {"S1"}


def test_scp005_two_roles_see_the_union(s):
    """training_manager of T3 and class_manager of C1 at once."""
    scope = load_scope(s, "two")
    assert not scope.is_global
    assert scope.managed_training_ids() == {"T1", "T2", "T3"}
    assert visible(s, scope, "can_view_training_page", ALL_TRAININGS) == {"T3"}
    assert visible(s, scope, "can_view_class", ALL_CLASSES) == {"C1"}
    assert visible(s, scope, "can_view_session", ALL_SESSIONS) == {"S3"}
    # T3's learners (o3, m2, m3, cm) and C1's members (m1, m2); not a1 nor a2.
    assert visible(s, scope, "can_view_learner", LEARNERS) == {"o3", "m2", "m3", "cm", "m1"}
    assert pairs(s, scope) == {
        ("T3", "o3"),
        ("T3", "m2"),
        ("T3", "m3"),
        ("T3", "cm"),
        ("T1", "m1"),
        ("T2", "m1"),
        ("T1", "m2"),
        ("T2", "m2"),
    }
    assert trainings(s, scope) == ALL_TRAININGS
    assert sessions(s, scope) == {"S3"}


def test_scp006_plain_learner_sees_only_themselves(s):
    scope = load_scope(s, "m2")
    assert not scope.is_global
    assert not scope.is_manager
    assert scope.is_learner_only
    assert scope.managed_training_ids() == frozenset()
    assert visible(s, scope, "can_view_training_page", ALL_TRAININGS) == set()
    assert visible(s, scope, "can_view_class", ALL_CLASSES) == set()
    # Not even the session they attend (S2).
    assert visible(s, scope, "can_view_session", ALL_SESSIONS) == set()
    # Themselves; m1 shares their class and trainings, a1 and o3 their trainings: all refused.
    assert visible(s, scope, "can_view_learner", LEARNERS) == {"m2"}
    assert pairs(s, scope) == set()
    assert pairs(s, scope, include_self=True) == {("T1", "m2"), ("T2", "m2"), ("T3", "m2")}
    assert trainings(s, scope) == set()
    assert training_rows(s, scope) == set()
    assert sessions(s, scope) == set()


def test_scp007_learner_of_another_training_is_refused(s):
    scope = load_scope(s, "a1")
    assert scope.can_view_learner(s, "a1")
    assert not scope.can_view_learner(s, "a2")
    with pytest.raises(Forbidden):
        scope.require(scope.can_view_learner(s, "a2"))
    scope.require(scope.can_view_learner(s, "a1"))  # no error
    assert pairs(s, scope, include_self=True) == {("T1", "a1")}


def test_scp008_a_user_without_roles_row_is_a_learner(s):
    """An id with no roles at all (e.g. imported user) gets the learner scope, nothing more."""
    scope = load_scope(s, "nobody")
    assert (scope.is_global, scope.is_manager, scope.is_admin) == (False, False, False)
    assert (scope.trainings, scope.classes, scope.sessions) == (frozenset(), frozenset(), frozenset())
    assert pairs(s, scope) == set()
    assert sessions(s, scope) == set()
