"""The figures of SPEC §4, read from the summary layer, scoped to the viewer.

Import each reader from the module that defines it (this package re-exports nothing):
  days.py            local days, time zones, date-range buckets
  population.py      Population (whose figures), require_population (who may see them), the
                     shapes figures come back in (StatusSummary, Trend, SessionStatistics),
                     training_count, training_module_counts, sessions_first_date
  _pairs.py          the population's (learner, training) rows of summary_pairs; status with
                     expiry; per-(training, day) counts behind the charts
  cards.py           learners, new and active users, completions, status donuts, the charts
  tables.py          trainings table, training content, results tables, a learner's modules
  activity.py        time spent, activity per day and trends (learner page)
  sessions.py        program sessions and one session's statistics
  module_summary.py  one learner's attempts of one module (raw rows, bounded by the page)
Every public reader is memoized where it is defined (@memoized, data/cache.py: by viewer,
arguments and data version); `reader.__wrapped__` is the uncached function. The rules the
figures apply (statuses, scores, expiry, rates) are data/rules.py; the summary tables are in
data/models.py and their upkeep (every write, same transaction) is data/summaries.py. The
reference computation the readers are checked against is tests/reference.py.
"""
