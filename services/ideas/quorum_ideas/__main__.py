"""`python -m quorum_ideas`: the ideas service (ideas, endorsements, merges)."""

from __future__ import annotations

import logging

from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common.service import Assembled, Service, Setup
from quorum_ideas.api import IdeasApi
from quorum_ideas.settings import IdeasSettings
from quorum_ideas.store import PROJECTED, IdeaStore

log = logging.getLogger("quorum_ideas")
SERVICE_NAME = ideas_pb2.DESCRIPTOR.services_by_name["IdeasService"].full_name
CONSUMER = "ideas"


async def assemble(setup: Setup[IdeasSettings]) -> Assembled:
    settings = setup.settings
    outbox = setup.outbox(setup.topics.ideas)
    store = IdeaStore(
        setup.client,
        setup.database,
        outbox,
        group_window=settings.ideas_group_commit_window_ms / 1000,
    )
    await store.prepare()
    server = setup.internal_server([SERVICE_NAME])
    ideas_pb2_grpc.add_IdeasServiceServicer_to_server(IdeasApi(store), server.server)

    async def report_groups() -> None:
        group = store.group_commit
        if group.groups:
            log.info(
                "ideas committed %d calls in %d transactions (%.1f each)",
                group.calls,
                group.groups,
                group.calls / group.groups,
            )

    return Assembled(
        server,
        parts=[
            setup.relaying(outbox),
            # Stage and status for ListIdeas and GetIdea, projected from the ledger's events.
            setup.consuming([setup.topics.validation], store.project, kinds=PROJECTED),
        ],
        closing=[report_groups],
    )


SERVICE = Service(
    name=CONSUMER,
    settings=IdeasSettings,
    listens=lambda settings: (settings.ideas_grpc_host, settings.ideas_grpc_port),
    database=lambda settings: settings.ideas_mongodb_database,
    topics=lambda topics: [topics.ideas, topics.validation, topics.dead_letter(CONSUMER)],
    assemble=assemble,
)
# In-process runs (the tests) start the service as its process would.
serve = SERVICE.serve


if __name__ == "__main__":
    SERVICE.main()
