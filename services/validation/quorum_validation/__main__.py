"""`python -m quorum_validation`: directory, pipelines, gate policies, stage ledger."""

from __future__ import annotations

from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_common.mongo import ensure_indexes
from quorum_common.service import Assembled, Service, Setup, Worker
from quorum_validation import wiring
from quorum_validation.api import DirectoryApi, GateApi, InsightsApi, PeersApi, PolicyApi
from quorum_validation.handler import KINDS
from quorum_validation.migration import migrate_embedded_evidence, migrate_idea_versions
from quorum_validation.settings import ValidationSettings

NAME = "validation"
SERVICE_NAMES = [s.full_name for s in validation_pb2.DESCRIPTOR.services_by_name.values()]


async def assemble(setup: Setup[ValidationSettings]) -> Assembled:
    client, database = setup.client, setup.database
    await ensure_indexes(database, wiring.INDEXES)
    outbox = setup.outbox(setup.topics.validation)
    await outbox.prepare()
    parts = wiring.assemble(client, database, outbox)
    # Before consuming: ledgers of an older version become evidence records.
    await migrate_embedded_evidence(client, database, parts.evidence, parts.policies, parts.judging)
    await migrate_idea_versions(database)
    server = setup.internal_server(SERVICE_NAMES)
    validation_pb2_grpc.add_GateServiceServicer_to_server(
        GateApi(parts.gates, parts.ledger), server.server
    )
    validation_pb2_grpc.add_DirectoryServiceServicer_to_server(
        DirectoryApi(client, parts.directory, parts.reevaluator), server.server
    )
    validation_pb2_grpc.add_PolicyServiceServicer_to_server(
        PolicyApi(client, parts.policies, parts.reevaluator), server.server
    )
    validation_pb2_grpc.add_InsightsServiceServicer_to_server(
        InsightsApi(parts.insights), server.server
    )
    validation_pb2_grpc.add_PeersServiceServicer_to_server(PeersApi(parts.peers), server.server)
    return Assembled(
        server,
        parts=[
            setup.relaying(outbox),
            Worker("reevaluator", parts.reevaluator.run),
            setup.consuming([setup.topics.ideas], parts.handler.handle, kinds=KINDS, outbox=outbox),
        ],
    )


SERVICE = Service(
    name=NAME,
    settings=ValidationSettings,
    listens=lambda settings: (settings.validation_grpc_host, settings.validation_grpc_port),
    database=lambda settings: settings.validation_mongodb_database,
    topics=lambda topics: [topics.ideas, topics.validation, topics.dead_letter(NAME)],
    assemble=assemble,
)
# In-process runs (the tests) start the service as its process would.
serve = SERVICE.serve


if __name__ == "__main__":
    SERVICE.main()
