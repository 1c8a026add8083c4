"""The figures of SPEC §4, read from the summary layer, scoped to the viewer.

Where each definition lives:
  days.py            local days, time zones, date-range buckets, certificate expiry dates
  population.py      Population (whose figures), require_population (who may see them), the
                     shapes figures come back in (StatusSummary, Trend, SessionStatistics)
  _pairs.py          the population's (learner, training) rows of summary_pairs; status with
                     expiry; per-(training, day) counts behind the charts
  cards.py           learners, new and active users, completions, status donuts, the charts
  tables.py          trainings table, training content, results tables, a learner's modules
  activity.py        time spent, activity per day and trends (learner page)
  sessions.py        program sessions and one session's statistics
  module_summary.py  one learner's attempts of one module (raw rows, bounded by the page)
  reference.py       the reference: every figure recomputed from the raw events (tests only)
The summary tables are in data/models.py; their upkeep (every write, same transaction) is
data/summaries.py.
"""

from data.cache import memoized as _memoized
from data.figures.activity import *  # noqa: F403
from data.figures.cards import *  # noqa: F403
from data.figures.days import *  # noqa: F403
from data.figures.module_summary import *  # noqa: F403
from data.figures.population import *  # noqa: F403
from data.figures.sessions import *  # noqa: F403
from data.figures.tables import (  # noqa: F401
    learner_modules,
    results_query,
    training_content,
    training_results,
    trainings_table,
)

# Every figure is memoized by viewer, arguments and data version (data/cache.py); the readers
# stay importable uncached from their own modules.

for _name in (
    "active_users_count",
    "active_users_series",
    "activity_series",
    "activity_trends",
    "completions_count",
    "completions_series",
    "first_activity_date",
    "learner_count",
    "learner_modules",
    "module_attempts",
    "new_users_count",
    "progress_series",
    "session_statistics",
    "sessions_first_date",
    "sessions_table",
    "status_summary",
    "time_spent_total",
    "training_content",
    "training_count",
    "training_module_counts",
    "training_results",
    "trainings_table",
):
    globals()[_name] = _memoized(globals()[_name])
