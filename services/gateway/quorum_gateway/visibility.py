"""What customers and integrations may see of other organizations, pure.

A customer sees aggregate evidence (counts, criteria, gate progress) for any idea of
its tenant, but another organization's identity only when that organization opted
into peer visibility (SPEC, "Transparency and peers").
"""

from __future__ import annotations

from collections.abc import Set

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2

HIDDEN = "another customer"


def visible_idea(idea: gateway_pb2.Idea, visible: Set[str]) -> gateway_pb2.Idea:
    """The idea without its submitter unless the submitter's organization is visible."""
    if idea.submitted_by.organization_id in visible:
        return idea
    shown = gateway_pb2.Idea()
    shown.CopyFrom(idea)
    shown.ClearField("submitted_by")
    return shown


def visible_report(report: domain_pb2.GateReport, visible: Set[str]) -> domain_pb2.GateReport:
    """The report with hidden organizations' weights dropped and names removed."""
    names = {w.organization_id: w.organization_name for w in report.weights}
    shown = domain_pb2.GateReport()
    shown.CopyFrom(report)
    del shown.weights[:]
    shown.weights.extend(
        w for w in report.weights if w.organization_id in visible and w.customer_id in visible
    )
    summary = report.summary
    hidden_names = [n for o, n in names.items() if o not in visible and n]
    for criterion in shown.criteria:
        if criterion.subject and criterion.name == "max_share" and criterion.subject not in visible:
            criterion.subject = ""
        for name in hidden_names:
            criterion.detail = criterion.detail.replace(name, HIDDEN)
    for name in hidden_names:
        summary = summary.replace(name, HIDDEN)
    shown.summary = summary
    return shown


def visible_council(council: domain_pb2.Council, visible: Set[str]) -> domain_pb2.Council:
    """The council with only the member organizations this caller may know of."""
    shown = domain_pb2.Council()
    shown.CopyFrom(council)
    del shown.member_organization_ids[:]
    shown.member_organization_ids.extend(o for o in council.member_organization_ids if o in visible)
    return shown
