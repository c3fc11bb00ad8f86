"""Generated gate policies for the gate's property tests: each criterion set or not."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from quorum_validation.gate import Commitment, GatePolicy, Relationship, Weighting


def gate_policies(**overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[GatePolicy]:
    """Policies of the gate into DISCOVERY with every criterion and rule drawn;
    `overrides`: a test's own strategy for some of the fields."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "stage": st.just("DISCOVERY"),
        "min_customers": st.integers(0, 6),
        "min_segments": st.integers(0, 4),
        "min_active": st.integers(0, 4),
        "min_weight": st.none() | st.floats(0, 50),
        "max_share": st.none() | st.floats(0, 1),
        "min_commitments": st.lists(
            st.tuples(st.sampled_from(Commitment), st.integers(0, 4)),
            max_size=3,
            unique_by=lambda pair: pair[0],
        ).map(tuple),
        "weighting": st.sampled_from(Weighting),
        "relationship_factors": st.dictionaries(st.sampled_from(Relationship), st.floats(0, 2)),
        "affiliates_count_once": st.booleans(),
        "sponsor_excluded": st.booleans(),
        "max_age_days": st.none() | st.integers(0, 365),
    }
    return st.builds(GatePolicy, **{**fields, **overrides})
