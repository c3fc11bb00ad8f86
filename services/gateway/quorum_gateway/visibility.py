"""What customers and integrations may see of other organizations, pure.

A customer sees aggregate evidence (counts, criteria, gate progress) for any idea of
its tenant, but another organization's identity only when that organization opted
into peer visibility (SPEC, "Transparency and peers").
"""

from __future__ import annotations

from collections.abc import MutableSequence, Set

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
    """The report with hidden organizations' weights dropped and names removed.

    A name is removed where the report's sentence holds it as a name (its phrases), never
    by looking for it in the words: an organization called "weight" leaves "of the
    weight" as it is.
    """
    shown = domain_pb2.GateReport()
    shown.CopyFrom(report)
    del shown.weights[:]
    shown.weights.extend(
        w for w in report.weights if w.organization_id in visible and w.customer_id in visible
    )
    for criterion in shown.criteria:
        if criterion.subject and criterion.name == "max_share" and criterion.subject not in visible:
            criterion.subject = ""
        if criterion.detail_phrases:
            criterion.detail = _said(criterion.detail_phrases, visible)
    if shown.summary_phrases:
        shown.summary = _said(shown.summary_phrases, visible)
    return shown


def _said(phrases: MutableSequence[domain_pb2.Phrase], visible: Set[str]) -> str:
    """The sentence again, each name the caller may not know said as HIDDEN (in the
    phrases too, which go out with the report)."""
    for phrase in phrases:
        if phrase.organization_id and phrase.organization_id not in visible:
            phrase.text = HIDDEN
            phrase.organization_id = ""
    return "".join(phrase.text for phrase in phrases)


def visible_council(council: domain_pb2.Council, visible: Set[str]) -> domain_pb2.Council:
    """The council with only the member organizations this caller may know of."""
    shown = domain_pb2.Council()
    shown.CopyFrom(council)
    del shown.member_organization_ids[:]
    shown.member_organization_ids.extend(o for o in council.member_organization_ids if o in visible)
    return shown
