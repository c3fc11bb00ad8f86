"""Scorecards: an organization's record and the vendor's."""

from __future__ import annotations

from rich.console import RenderableType

from quorum.domain.v1 import domain_pb2
from quorum_client.render.text import field_grid, percent


def organization_scorecard(card: domain_pb2.OrganizationScorecard) -> RenderableType:
    median = f"{card.median_days_to_decision:.1f} days" if card.decisions else "no decision yet"
    return field_grid(
        [
            ("Organization", card.organization_id),
            ("Submitted", str(card.submitted)),
            ("Endorsed", str(card.endorsed)),
            ("Launched", str(card.launched)),
            ("Declined with a reason", str(card.declined_with_reason)),
            ("Decisions", str(card.decisions)),
            ("Median endorsement → decision", median),
        ]
    )


def tenant_scorecard(card: domain_pb2.TenantScorecard) -> RenderableType:
    clean_share = percent(card.share_launched_without_override)
    return field_grid(
        [
            ("Overrides", str(card.overrides)),
            ("Launched", str(card.launched)),
            ("Launched without override", f"{card.launched_without_override} ({clean_share})"),
            ("Single-customer ideas stopped", str(card.single_customer_ideas_stopped)),
        ]
    )
