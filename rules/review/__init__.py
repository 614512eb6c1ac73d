"""Review periods and scorecards: how each unit did over a quarter, a month, a half-year.

``periods``: reporting periods as review meetings name them (``2024-Q2``,
``2024-06``, ``2024-H1``, ``2024``, ``FROM..TO``) and the bounds of a time
window; ``scorecard``: a unit's deadlines kept, kept late or missed, its
warnings, where its indicators stood; ``deadlines``: a deadline as judged, and
a period's deadlines counted; ``lineage``: which units a period is
reported on, and the scorecards of merged units rolled up into their successors'.
"""

from rules.review.deadlines import DeadlineCounts
from rules.review.lineage import carrier, period_units, province_problem, roll_up
from rules.review.periods import (
    BOUND_FORMS,
    PERIOD_FORMS,
    Bound,
    Period,
    bound_instant,
    day_end,
    parse_bound,
    parse_day,
    parse_instant,
    parse_period,
    quarter_of,
)
from rules.review.scorecard import (
    Deadline,
    DeadlineOutcome,
    IndicatorStanding,
    ScorecardBuilder,
    UnitScorecard,
    rank,
    scorecard,
    warned_deadlines,
)

__all__ = [
    "BOUND_FORMS",
    "PERIOD_FORMS",
    "Bound",
    "Deadline",
    "DeadlineCounts",
    "DeadlineOutcome",
    "IndicatorStanding",
    "Period",
    "ScorecardBuilder",
    "UnitScorecard",
    "bound_instant",
    "carrier",
    "day_end",
    "parse_bound",
    "parse_day",
    "parse_instant",
    "parse_period",
    "period_units",
    "province_problem",
    "quarter_of",
    "rank",
    "roll_up",
    "scorecard",
    "warned_deadlines",
]
