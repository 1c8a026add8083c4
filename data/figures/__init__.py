"""The figures of SPEC §4, read from the summary layer, scoped to the viewer.

Where each definition lives:
  days.py            local days, time zones, date-range buckets, certificate expiry dates
  population.py      Population (whose figures), require_population (who may see them),
                     the shapes figures come back in (StatusSummary, Trend, SessionStatistics)
  reference.py       the reference: every figure recomputed from the raw events (tests only)
  module_summary.py  one learner's attempts of one module (raw, bounded by the page)
The summary tables and their upkeep are in data/summaries/.
"""

from data.figures.days import *  # noqa: F403
from data.figures.module_summary import *  # noqa: F403
from data.figures.population import *  # noqa: F403
from data.figures.reference import *  # noqa: F403
