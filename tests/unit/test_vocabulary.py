"""`Importance` is declared once (quorum_common.vocabulary); the CLI spells the same words."""

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum_client.cli import choices
from quorum_common.vocabulary import Importance
from quorum_ideas import domain
from quorum_validation import gate


def test_both_services_use_the_one_declaration() -> None:
    assert domain.Importance is Importance
    assert gate.Importance is Importance


def test_its_numbers_are_the_contracts() -> None:
    named = {
        v.name.removeprefix("IMPORTANCE_"): v.number
        for v in domain_pb2.Importance.DESCRIPTOR.values
        if v.number
    }
    assert {i.name: i.value for i in Importance} == named


def test_the_cli_offers_exactly_its_values() -> None:
    offered = [int(choices.wire(domain_pb2.Importance, c)) for c in choices.Importance]
    assert offered == [int(i) for i in Importance]
