"""An organization's counted endorsement, kept in totals, equals a recount of every member.

An endorsement reads only its own member's record and the organization's totals
(`complete=False`); a withdrawal reads every record. Whatever the history, what the
organization counts as must be what counting all its members' records gives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum_ideas.backing import BackingTotals, OrganizationBacking, count_by_organization
from quorum_ideas.vocabulary import Commitment, Importance, Member, MemberEndorsement

ORG = "acme"
T0 = datetime(2026, 12, 1, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.sampled_from(["endorse", "withdraw"]),
        st.integers(min_value=0, max_value=5),  # which member
        st.sampled_from(list(Importance)),
        st.frozensets(st.sampled_from(list(Commitment))),
    ),
    max_size=40,
)


@given(steps)
@settings(max_examples=300, deadline=None)
def test_totals_kept_by_each_change_equal_a_recount(
    history: list[tuple[str, int, Importance, frozenset[Commitment]]],
) -> None:
    records: dict[str, MemberEndorsement] = {}
    stored = BackingTotals()  # what the organization's record holds between calls
    for tick, (action, number, importance, commitments) in enumerate(history):
        who = Member(ORG, f"member-{number}")
        if action == "endorse":
            endorsement = MemberEndorsement(
                who, importance, "", commitments, T0 + timedelta(minutes=tick)
            )
            own = (records[who.member_id],) if who.member_id in records else ()
            read = OrganizationBacking(ORG, own, stored, complete=False)
            changed = read.with_endorsement(endorsement)
            records[who.member_id] = endorsement
        elif who.member_id in records:
            changed = OrganizationBacking(ORG, tuple(records.values())).without(who)
            del records[who.member_id]
        else:
            continue
        stored = changed.summed
        recounted = count_by_organization(records.values())
        assert changed.counted() == (recounted[0] if recounted else None)
        assert changed.endorsing == bool(records)


def test_a_partial_backing_refuses_a_withdrawal() -> None:
    """A withdrawal must see every member's record: the next latest is among them."""
    who = Member(ORG, "ana")
    endorsement = MemberEndorsement(who, Importance.CRITICAL, "", frozenset(), T0)
    partial = OrganizationBacking(ORG, (endorsement,), BackingTotals.of([endorsement]), False)
    with pytest.raises(ValueError, match="every member's record"):
        partial.without(who)
