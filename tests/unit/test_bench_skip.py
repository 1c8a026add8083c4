"""`make bench BENCH_ARGS="--skip ..."` (bench/__main__.py): the parts run after the app's
benchmark (attestations, activity-records, bpf) are taken out of what bench/app.py is given,
which refuses parts it does not know."""

from __future__ import annotations

from bench.__main__ import AFTER_APP, _skipped, _without_parts


def test_skip_passes_the_apps_parts_on_and_keeps_the_others():
    argv = ["--repeat", "5", "--skip", "warm,bpf, attestations", "--learners=1000"]
    assert _skipped(argv) == {"warm", "bpf", "attestations"}
    assert _without_parts(argv, AFTER_APP) == ["--repeat", "5", "--skip=warm", "--learners=1000"]
    assert _without_parts(["--skip=bpf,activity-records,attestations"], AFTER_APP) == []
    assert _without_parts(["--skip=cold,load"], AFTER_APP) == ["--skip=cold,load"]
    assert _without_parts(["--learners", "10"], AFTER_APP) == ["--learners", "10"]
