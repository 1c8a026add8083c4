"""SPEC §4's rules (data/rules.py), each on its own, with hand-computed expectations: no
database, no app."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from data import rules

T0 = datetime(2026, 3, 2, 9, 0)
T1 = datetime(2026, 3, 3, 9, 0)
T2 = datetime(2026, 3, 4, 9, 0)


# -- modules ---------------------------------------------------------------------------------


def test_attempt_score_is_points_over_max_points_in_percent():
    assert rules.attempt_score(3.0, 4.0) == 75.0
    assert rules.attempt_score(0.0, 10.0) == 0.0
    assert rules.attempt_score(10.0, 10.0) == 100.0


def test_attempt_score_of_a_module_without_scored_activities_is_100():
    assert rules.attempt_score(0.0, 0.0) == 100.0


def test_attempt_score_is_replaced_by_an_xapi_scaled_score():
    assert rules.attempt_score(3.0, 4.0, override=42.5) == 42.5
    assert rules.attempt_score(3.0, 4.0, override=0.0) == 0.0
    assert rules.attempt_score(0.0, 0.0, override=None) == 100.0


def test_newer_finish_compares_finish_then_start_then_attempt_id():
    assert rules.newer_finish((T1, T0, "a", 10.0), (T0, T0, "z", 90.0))
    assert not rules.newer_finish((T0, T0, "z", 90.0), (T1, T0, "a", 10.0))
    # Same finish: the later start is newer; same start too: the larger id.
    assert rules.newer_finish((T1, T1, "a", 0.0), (T1, T0, "b", 0.0))
    assert rules.newer_finish((T1, T0, "b", 0.0), (T1, T0, "a", 0.0))
    assert not rules.newer_finish((T1, T0, "a", 0.0), (T1, T0, "a", 0.0))


def test_better_finish_compares_score_then_the_newer_attempt():
    assert rules.better_finish((90.0, T0, T0, "a", None), (80.0, T2, T2, "z", None))
    assert not rules.better_finish((80.0, T2, T2, "z", None), (90.0, T0, T0, "a", None))
    # A tie: the later finish, then the later start, then the larger id; the verdict plays no part.
    assert rules.better_finish((80.0, T1, T0, "a", "failed"), (80.0, T0, T0, "b", "passed"))
    assert rules.better_finish((80.0, T1, T1, "a", None), (80.0, T1, T0, "b", None))
    assert rules.better_finish((80.0, T1, T0, "b", None), (80.0, T1, T0, "a", None))
    assert not rules.better_finish((80.0, T1, T0, "a", "passed"), (80.0, T1, T0, "a", "failed"))


def test_module_score_keeps_the_best_or_the_newest_and_0_without_a_finish():
    assert rules.module_score(80.0, 40.0) == 80.0
    assert rules.module_score(80.0, 40.0, "best") == 80.0
    assert rules.module_score(80.0, 40.0, "newest") == 40.0
    assert rules.module_score(None, None, "best") == 0.0
    assert rules.module_score(None, None, "newest") == 0.0


def test_reaches_forgives_floating_point_noise_only():
    assert rules.reaches(100 * 0.29 / 1, 29)  # 28.999999999999996
    assert rules.reaches(50.0, 50.0)
    assert not rules.reaches(49.99, 50.0)
    assert not rules.reaches(50.0 - 1e-6, 50.0)


def test_module_passed_by_the_min_score_unless_an_xapi_verdict_says():
    assert rules.module_passed(50.0, 50.0)
    assert not rules.module_passed(49.0, 50.0)
    assert rules.module_passed(10.0, 50.0, "passed")
    assert not rules.module_passed(100.0, 50.0, "failed")


def test_module_status_of_each_case():
    assert rules.module_status(T0, True, 1) == "passed"
    assert rules.module_status(T0, False, 2) == "failed"
    assert rules.module_status(None, False, 1) == "in progress"
    assert rules.module_status(None, None, 0) == "not started"
    assert rules.module_status(None, None, None) == "not started"


# -- trainings -------------------------------------------------------------------------------

# Two mandatory modules (min 50 and 0) and an optional one (min 80).
STEPS = [("m1", True, 50.0), ("m2", True, 0.0), ("opt", False, 80.0)]


def test_training_state_not_started_and_in_progress():
    assert rules.training_state(STEPS, {}) == ("not started", 0, 0.0, None)
    # An unfinished attempt of the optional module: in progress, nothing completed.
    assert rules.training_state(STEPS, {"opt": (None, 0.0, None)}) == ("in progress", 0, 0.0, None)
    # One mandatory completed: score (60 + 0) / 2, still in progress.
    assert rules.training_state(STEPS, {"m1": (T0, 60.0, None)}) == ("in progress", 1, 30.0, None)


def test_training_state_passed_with_the_latest_mandatory_date_and_the_mandatory_mean():
    state = rules.training_state(
        STEPS, {"m1": (T1, 60.0, None), "m2": (T0, 20.0, None), "opt": (T2, 10.0, None)}
    )
    # The optional module counts as completed but neither in the score nor in the date.
    assert state == rules.TrainingState("passed", 3, 40.0, T1)


def test_training_state_failed_when_a_mandatory_module_misses_its_minimum():
    state = rules.training_state(STEPS, {"m1": (T0, 49.0, None), "m2": (T1, 100.0, None)})
    assert state == ("failed", 2, 74.5, T1)


def test_training_state_follows_the_kept_attempts_xapi_verdicts():
    # m1's score misses its minimum but its verdict is passed; m2 reaches 0 but says failed.
    passed = rules.training_state(STEPS, {"m1": (T0, 10.0, "passed"), "m2": (T1, 100.0, None)})
    assert passed == ("passed", 2, 55.0, T1)
    failed = rules.training_state(STEPS, {"m1": (T0, 90.0, None), "m2": (T1, 100.0, "failed")})
    assert failed == ("failed", 2, 95.0, T1)


def test_training_state_without_mandatory_modules_needs_every_module_and_has_no_score():
    steps = [("a", False, 50.0), ("b", False, 0.0)]
    assert rules.training_state(steps, {"a": (T0, 90.0, None)}) == ("in progress", 1, None, None)
    assert rules.training_state(steps, {"a": (T2, 40.0, None), "b": (T1, 0.0, None)}) == (
        "failed",
        2,
        None,
        T2,
    )
    assert rules.training_state(steps, {"a": (T0, 90.0, None), "b": (T1, 0.0, None)}) == (
        "passed",
        2,
        None,
        T1,
    )


def test_training_state_of_a_training_without_modules_is_never_completed():
    assert rules.training_state([], {}) == ("not started", 0, None, None)


def test_initial_training_score():
    assert rules.initial_training_score(2) == 0.0
    assert rules.initial_training_score(0) is None


def test_training_progress_is_completed_over_all_modules():
    assert rules.training_progress(1, 4) == 25.0
    assert rules.training_progress(3, 3) == 100.0
    assert rules.training_progress(0, 0) == 0.0


def test_is_completed():
    assert [s for s in rules.STATUSES if rules.is_completed(s)] == ["passed", "failed", "expired"]


def test_add_months_clamps_to_the_last_day_of_the_month():
    assert rules.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert rules.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert rules.add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert rules.add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)


def test_expiry_threshold_is_the_first_completion_day_still_valid():
    # 29, 30 and 31 Jan + 1 month are all 28 Feb, before 1 Mar: the first valid day is 1 Feb.
    assert rules.expiry_threshold(date(2026, 3, 1), 1) == date(2026, 2, 1)
    assert rules.expiry_threshold(date(2026, 11, 25), 12) == date(2025, 11, 25)


def test_is_expired_and_status_on():
    today = date(2026, 11, 25)
    assert rules.is_expired("passed", date(2025, 11, 24), 12, today)
    assert not rules.is_expired("passed", date(2025, 11, 25), 12, today)
    assert not rules.is_expired("failed", date(2020, 1, 1), 12, today)
    assert not rules.is_expired("passed", date(2020, 1, 1), None, today)
    assert not rules.is_expired("passed", date(2020, 1, 1), 0, today)
    assert rules.status_on("passed", date(2025, 11, 24), 12, today) == "expired"
    assert rules.status_on("passed", date(2025, 11, 25), 12, today) == "passed"
    assert rules.status_on("in progress", None, 12, today) == "in progress"


def test_counted_from_is_the_later_of_the_completion_and_the_enrollment():
    assert rules.counted_from(T1, T0) == T1
    assert rules.counted_from(T0, T2) == T2
    assert rules.counted_from(T0, None) == T0


# -- people, rates and averages --------------------------------------------------------------


def test_is_counted_learner():
    assert rules.is_counted_learner("active", False)
    assert not rules.is_counted_learner("active", True)
    assert not rules.is_counted_learner("blocked", False)


def test_completion_rate_is_completed_over_learners_in_percent():
    assert rules.completion_rate(1, 4) == 25.0
    assert rules.completion_rate(3, 3) == 100.0
    assert rules.completion_rate(0, 5) == 0.0
    assert rules.completion_rate(0, 0) is None


def test_percent():
    assert rules.percent(1, 8) == 12.5
    assert rules.percent(2.5, 10.0) == 25.0
    assert rules.percent(3, 0) is None


def test_average():
    assert rules.average(10.0, 4) == 2.5
    assert rules.average(0.0, 0) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([5.0], 5.0), ([3.0, 1.0, 2.0], 2.0), ([4.0, 1.0, 3.0, 2.0], 2.5)],
)
def test_median(values, expected):
    assert rules.median(values) == expected


def test_edof_completion_rate_at_zero_partial_and_capped():
    assert rules.edof_completion_rate(0, 7200) == 0.0
    assert rules.edof_completion_rate(5400, 7200) == 75.0
    assert rules.edof_completion_rate(10800, 7200) == 100.0  # 150 % capped
    assert rules.edof_completion_rate(100, 0) is None


def test_edof_status():
    assert rules.edof_status(100.0, False, 7200) == rules.EDOF_DONE
    assert rules.edof_status(16.7, True, 1200) == rules.EDOF_DONE  # training completed
    assert rules.edof_status(0.8, False, 60) == rules.EDOF_PARTIAL
    assert rules.edof_status(0.0, False, 0) == rules.EDOF_NOT_DONE


def test_dropped_out_on():
    assert rules.dropped_out_on(date(2026, 3, 1)) == date(2026, 3, 31)


# --------------------------------------------------------------------------------------------
# At-risk learners (SPEC §9), hand-computed at each boundary
# --------------------------------------------------------------------------------------------


def test_at_risk_inactive_from_n_days_since_the_last_activity_else_the_enrollment():
    from datetime import date

    on = date(2026, 3, 20)
    common = {"status": "in progress", "failed": (), "sessions": ()}
    at_14 = rules.at_risk(on, 14, last_activity=date(2026, 3, 6), enrolled_on=date(2026, 1, 1), **common)
    assert at_14 == rules.AtRisk(14, (), None, None)
    assert (
        rules.at_risk(on, 14, last_activity=date(2026, 3, 7), enrolled_on=date(2026, 1, 1), **common) is None
    )
    assert (
        rules.at_risk(on, 14, last_activity=None, enrolled_on=date(2026, 3, 6), **common).inactive_days == 14
    )
    assert rules.at_risk(on, 14, last_activity=None, enrolled_on=date(2026, 3, 7), **common) is None
    # No activity and an enrollment without a date: no number of days to judge.
    assert rules.at_risk(on, 14, last_activity=None, enrolled_on=None, **common) is None
    assert rules.inactive_days(on, date(2026, 3, 6), date(2026, 3, 19)) == 14  # activity first


def test_at_risk_late_session_ends_within_7_days_the_earliest_ending():
    from datetime import date

    on = date(2026, 3, 20)
    assert rules.late_session(on, [("s", date(2026, 3, 27))]) == ("s", date(2026, 3, 27))
    assert rules.late_session(on, [("s", date(2026, 3, 28))]) is None
    assert rules.late_session(on, [("s", None)]) is None
    assert rules.late_session(
        on, [("b", date(2026, 3, 1)), ("a", date(2026, 3, 1)), ("c", date(2026, 2, 1))]
    ) == (
        "c",
        date(2026, 2, 1),
    )
    late = rules.at_risk(
        on, 14, status="not started", last_activity=on, enrolled_on=on, failed=(), sessions=[("s", on)]
    )
    assert late == rules.AtRisk(None, (), "s", on)


def test_at_risk_failed_mandatory_modules_and_completed_trainings():
    from datetime import date, datetime

    steps = [("m1", True, 50.0), ("m2", True, 50.0), ("m3", False, 50.0)]
    done = datetime(2026, 3, 1)
    modules = {"m1": (done, 40.0, None), "m2": (None, 0.0, None), "m3": (done, 10.0, None)}
    assert rules.failed_modules(steps, modules) == ("m1",)
    assert rules.failed_modules(steps, {**modules, "m1": (done, 80.0, None)}) == ()  # re-passed: best 80
    assert rules.failed_modules(steps, {**modules, "m1": (done, 90.0, "failed")}) == ("m1",)  # xAPI verdict
    on = date(2026, 3, 20)
    for status in rules.COMPLETED_STATUSES:
        assert rules.at_risk(on, 1, status=status, last_activity=None, enrolled_on=date(2020, 1, 1),
                             failed=("m1",), sessions=[("s", on)]) is None  # fmt: skip
    failing = rules.at_risk(
        on, 14, status="in progress", last_activity=on, enrolled_on=on, failed=["m1"], sessions=()
    )
    assert failing == rules.AtRisk(None, ("m1",), None, None)
