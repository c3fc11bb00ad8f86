"""The validation service's stores on one database, handed as one to every part that
changes or reads several of them (the use cases, the consumer's handler, the
re-evaluator, peers and insights)."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_validation.decisions import Decisions
from quorum_validation.directory import DirectoryStore
from quorum_validation.evidence import CHUNK, EvidenceStore
from quorum_validation.ledger import LedgerStore
from quorum_validation.policies import PolicyStore


@dataclass(frozen=True)
class Stores:
    ledger: LedgerStore
    evidence: EvidenceStore
    directory: DirectoryStore
    policies: PolicyStore
    decisions: Decisions

    @classmethod
    def on(cls, database: AsyncDatabase[Document], chunk: int = CHUNK) -> Stores:
        """`chunk`: records a rebuild counts per transaction."""
        return cls(
            ledger=LedgerStore(database),
            evidence=EvidenceStore(database, chunk),
            directory=DirectoryStore(database),
            policies=PolicyStore(database),
            decisions=Decisions(database),
        )
