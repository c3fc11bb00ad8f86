"""The validation service's parts on one database, wired in one place.

The stores, the use cases, the consumer's handler, the re-evaluator, insights and peers:
`__main__` serves them, and the tests that drive the parts directly take the same
wiring with a clock of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_common.outbox import COLLECTION as OUTBOX
from quorum_common.outbox import INDEXES as OUTBOX_INDEXES
from quorum_common.outbox import Outbox
from quorum_common.processed import PROCESSED, PROCESSED_INDEXES
from quorum_validation import decisions, directory, evidence, ledger, peers, policies
from quorum_validation.handler import IdeaEvents
from quorum_validation.insights import Insights
from quorum_validation.judging import Judging
from quorum_validation.reevaluation import Reevaluator
from quorum_validation.stores import Stores
from quorum_validation.usecases import Gates, moment

# Every collection of the service's database and its indexes.
INDEXES = {
    **ledger.INDEXES,
    **evidence.INDEXES,
    **decisions.INDEXES,
    **directory.INDEXES,
    **policies.INDEXES,
    **peers.INDEXES,
    PROCESSED: PROCESSED_INDEXES,
    OUTBOX: OUTBOX_INDEXES,
}


@dataclass(frozen=True)
class Parts:
    ledger: ledger.LedgerStore
    evidence: evidence.EvidenceStore
    directory: directory.DirectoryStore
    policies: policies.PolicyStore
    decisions: decisions.Decisions
    judging: Judging
    gates: Gates
    handler: IdeaEvents
    reevaluator: Reevaluator
    insights: Insights
    peers: peers.Peers


def assemble(
    client: AsyncMongoClient[Document],
    database: AsyncDatabase[Document],
    outbox: Outbox | None,
    clock: Callable[[], datetime] = moment,
    chunk: int = evidence.CHUNK,
) -> Parts:
    """`outbox`: where the events the parts owe go (None: nowhere, a test's choice);
    `chunk`: records a rebuild counts per transaction."""
    stores = Stores.on(database, chunk)
    judging = Judging(stores.directory, stores.evidence)
    reevaluator = Reevaluator(client, database, outbox, stores, judging, clock)
    # A rebuild too big for one transaction is carried on by the re-evaluator.
    judging.on_unfinished = reevaluator.notify
    return Parts(
        ledger=stores.ledger,
        evidence=stores.evidence,
        directory=stores.directory,
        policies=stores.policies,
        decisions=stores.decisions,
        judging=judging,
        gates=Gates(client, outbox, stores, judging, clock),
        handler=IdeaEvents(stores, judging, clock),
        reevaluator=reevaluator,
        insights=Insights(database, stores),
        peers=peers.Peers(client, outbox, stores, database),
    )
