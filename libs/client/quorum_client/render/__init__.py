"""How Quorum's messages look to a person: rich tables and one-line summaries.

Shared by the CLI and the newcomer demo, so both show a gate report the same way.
One module per command group (ideas, gates, directory, policies, keys, events,
scorecards, peers, notifications) on the small words in `text`; every name is
also here, so `render.gate_report(...)` reads the same wherever it is called.
"""

from __future__ import annotations

from quorum_client.render.directory import (
    councils_table,
    organization_details,
    organization_flags,
    organizations_table,
)
from quorum_client.render.events import EVENT_KINDS, event_kind, event_line, event_summary
from quorum_client.render.gates import (
    criteria_table,
    criterion_name,
    criterion_value,
    field_list,
    gate_headline,
    gate_report,
    preconditions_table,
    weights_table,
)
from quorum_client.render.ideas import (
    endorsements_table,
    idea_details,
    ideas_table,
    next_gate,
    similar_table,
)
from quorum_client.render.keys import acts_for, key_details, keys_table
from quorum_client.render.notifications import (
    channel_text,
    deliveries_table,
    kinds_text,
    subscriber_text,
    subscriptions_table,
)
from quorum_client.render.peers import introduction_status, introductions_table, peers_table
from quorum_client.render.policies import (
    also_requires,
    council_rule,
    pipeline_table,
    policies_table,
    policy_rules,
    requires,
    what_if,
)
from quorum_client.render.scorecards import organization_scorecard, tenant_scorecard
from quorum_client.render.text import (
    ID_WIDTH,
    NO,
    YES,
    arr,
    commitments,
    day,
    field_grid,
    importance,
    label,
    member,
    number,
    percent,
    plain_table,
    relationship,
    role,
    status,
    timestamp,
    weighting,
)

__all__ = [
    "EVENT_KINDS",
    "ID_WIDTH",
    "NO",
    "YES",
    "acts_for",
    "also_requires",
    "arr",
    "channel_text",
    "commitments",
    "council_rule",
    "councils_table",
    "criteria_table",
    "criterion_name",
    "criterion_value",
    "day",
    "deliveries_table",
    "endorsements_table",
    "event_kind",
    "event_line",
    "event_summary",
    "field_grid",
    "field_list",
    "gate_headline",
    "gate_report",
    "idea_details",
    "ideas_table",
    "importance",
    "introduction_status",
    "introductions_table",
    "key_details",
    "keys_table",
    "kinds_text",
    "label",
    "member",
    "next_gate",
    "number",
    "organization_details",
    "organization_flags",
    "organization_scorecard",
    "organizations_table",
    "peers_table",
    "percent",
    "pipeline_table",
    "plain_table",
    "policies_table",
    "policy_rules",
    "preconditions_table",
    "relationship",
    "requires",
    "role",
    "similar_table",
    "status",
    "subscriber_text",
    "subscriptions_table",
    "tenant_scorecard",
    "timestamp",
    "weighting",
    "weights_table",
    "what_if",
]
