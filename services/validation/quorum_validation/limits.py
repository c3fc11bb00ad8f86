"""The bounds of every number a policy, an organization or a council may hold.

Checked when they are written (`requests.py`: INVALID_ARGUMENT naming the field), and
applied again when stored documents are read (`bounded_*` below), so a document written
before the bounds existed, or edited by hand, still evaluates: a number past its bound
is clamped to it, a NaN takes the value that makes its criterion hardest to meet.
Nothing stored can make an evaluation raise.
"""

from __future__ import annotations

import math

# min_customers, min_segments, min_active and each min_commitments count.
COUNT_MAX = 100_000
# min_weight: far above what any set of organizations weighs (see ORGANIZATION_WEIGHT_MAX).
WEIGHT_MAX = 1e12
# Each relationship factor (the SPEC's are 1.0 and 0.5).
FACTOR_MAX = 10.0
# Endorsements older than this many days stop counting (100 years).
MAX_AGE_DAYS_MAX = 36_500
# An organization's annual revenue, in minor units (10 trillion in major units).
ARR_MAX = 10**15
# The most one organization can weigh under any policy within the bounds:
# CRITICAL (3) x FACTOR_MAX x ARR_MAX / 1e5 (linear weighting). The engine caps a
# weight here, so even a weight computed from out-of-bound inputs stays finite.
ORGANIZATION_WEIGHT_MAX = 3 * FACTOR_MAX * ARR_MAX / 1e5
# A max_share that is NaN in a stored document: a cap nobody meets.
_SHARE_UNMEETABLE = 1e-9


def bounded_count(value: object) -> int:
    """A stored count within [0, COUNT_MAX]."""
    number = _number(value, COUNT_MAX)
    return int(min(max(number, 0), COUNT_MAX))


def bounded_weight(value: object) -> float | None:
    """A stored min_weight within (0, WEIGHT_MAX]; None: not required."""
    if value is None:
        return None
    number = _number(value, WEIGHT_MAX)
    if number <= 0:
        return None
    return float(min(number, WEIGHT_MAX))


def bounded_share(value: object) -> float | None:
    """A stored max_share within (0, 1]; None: not required."""
    if value is None:
        return None
    number = _number(value, _SHARE_UNMEETABLE)
    if number == 0:
        return None
    return float(min(max(number, _SHARE_UNMEETABLE), 1.0))


def bounded_quorum(value: object, absent: float | None) -> float | None:
    """A stored council quorum within (0, 1]; `absent` when it is 0, negative or missing."""
    if value is None:
        return absent
    number = _number(value, 1.0)
    if number <= 0:
        return absent
    return float(min(number, 1.0))


def bounded_factor(value: object) -> float:
    """A stored relationship factor within [0, FACTOR_MAX]; NaN counts for nothing."""
    number = _number(value, 0.0)
    return float(min(max(number, 0.0), FACTOR_MAX))


def bounded_max_age(value: object) -> int | None:
    """A stored max_age_days within [1, MAX_AGE_DAYS_MAX]; None: endorsements never age."""
    if value is None:
        return None
    number = _number(value, 0)
    if number <= 0:
        return None
    return int(min(number, MAX_AGE_DAYS_MAX))


def bounded_arr(value: object) -> int:
    """A stored annual revenue within [0, ARR_MAX]; NaN is none."""
    number = _number(value, 0)
    return int(min(max(number, 0), ARR_MAX))


def bounded_organization_weight(weight: float) -> float:
    """A computed weight within [0, ORGANIZATION_WEIGHT_MAX]; NaN weighs nothing."""
    if weight <= ORGANIZATION_WEIGHT_MAX:
        return weight if weight >= 0 else 0.0
    return 0.0 if math.isnan(weight) else ORGANIZATION_WEIGHT_MAX


def _number(value: object, nan: float) -> float:
    """A stored number as a float or int, `nan` for NaN and for what is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return nan
    if isinstance(value, float) and math.isnan(value):
        return nan
    return value
