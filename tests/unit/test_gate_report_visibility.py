"""A gate report as a customer sees it: validation's sentence, the gateway's hiding.

The report's sentences carry the organizations they name as parts of their own, and the
gateway says them again with only the names the caller may know: an organization named
like a common word hides its name, never the word.
"""

from __future__ import annotations

import pytest

from quorum.domain.v1 import domain_pb2
from quorum_gateway.visibility import HIDDEN, visible_report
from quorum_validation.gate import Importance, evaluate
from quorum_validation.messages import report_message
from quorum_validation.pipeline import default_pipeline
from support.gates import NOW, endorse, evidence, org


def discovery_report(dominant: str, other: str) -> domain_pb2.GateReport:
    """`dominant` with 86% of the weight and a small `other`, one segment."""
    directory = [
        org("big", "retail", 1_000_000_000, name=dominant),
        org("small", "retail", 250_000_000, name=other),
    ]
    ev = evidence(
        [endorse("big", Importance.CRITICAL), endorse("small", Importance.IMPORTANT)],
        directory,
    )
    return report_message(evaluate(default_pipeline().policy_into("DISCOVERY"), ev, NOW))


def test_a_name_the_caller_may_know_is_said_as_validation_said_it() -> None:
    report = discovery_report("MegaCorp", "Bakery")
    shown = visible_report(report, {"big", "small"})
    assert shown.summary == report.summary
    assert shown.summary == (
        "needs 1 more customer from 1 more segment; MegaCorp holds 86% of the weight, "
        "over the 50% cap"
    )


@pytest.mark.parametrize("word", ["the", "weight", "holds", "cap"])
def test_a_hidden_organization_named_like_a_word_hides_its_name_not_the_word(word: str) -> None:
    shown = visible_report(discovery_report(word, "Bakery"), {"small"})
    assert shown.summary == (
        f"needs 1 more customer from 1 more segment; {HIDDEN} holds 86% of the weight, "
        "over the 50% cap"
    )
    share = next(c for c in shown.criteria if c.name == "max_share")
    assert share.detail == f"{HIDDEN} holds 86% of the weight (cap 50%)"
    assert share.subject == ""
    # What goes out with the report names nobody the caller may not know.
    assert [p.text for p in shown.summary_phrases if p.organization_id] == []
    assert word not in [p.text for p in share.detail_phrases]


def test_a_hidden_organization_named_like_a_word_leaves_a_known_ones_sentence_alone() -> None:
    report = discovery_report("MegaCorp", "weight")
    shown = visible_report(report, {"big"})
    assert shown.summary == report.summary
    assert [w.organization_name for w in shown.weights] == ["MegaCorp"]
