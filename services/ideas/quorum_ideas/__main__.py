"""`python -m quorum_ideas`: the ideas service (ideas, endorsements, merges)."""

from __future__ import annotations

import logging
from datetime import timedelta

from pymongo.asynchronous.mongo_client import AsyncMongoClient

from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common.events import Topics
from quorum_common.mongo import Document
from quorum_common.outbox import Outbox
from quorum_common.service import Assembled, Service, consuming, internal_server, relaying
from quorum_ideas.api import IdeasApi
from quorum_ideas.settings import IdeasSettings
from quorum_ideas.store import PROJECTED, IdeaStore

log = logging.getLogger("quorum_ideas")
SERVICE_NAME = ideas_pb2.DESCRIPTOR.services_by_name["IdeasService"].full_name
CONSUMER = "ideas"


async def assemble(
    settings: IdeasSettings, topics: Topics, client: AsyncMongoClient[Document]
) -> Assembled:
    database = client[settings.ideas_mongodb_database]
    outbox = Outbox(database, topics.ideas, timedelta(seconds=settings.outbox_retention_seconds))
    store = IdeaStore(
        client, database, outbox, group_window=settings.ideas_group_commit_window_ms / 1000
    )
    await store.prepare()
    server = internal_server(
        settings, settings.ideas_grpc_host, settings.ideas_grpc_port, [SERVICE_NAME]
    )
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
            relaying(settings, CONSUMER, outbox),
            # Stage and status for ListIdeas and GetIdea, projected from the ledger's events.
            consuming(
                settings,
                settings.ideas_grpc_port,
                name=CONSUMER,
                client=client,
                database=database,
                topics=topics,
                sources=[topics.validation],
                handle=store.project,
                kinds=PROJECTED,
            ),
        ],
        closing=[report_groups],
    )


SERVICE = Service(
    name="ideas",
    settings=IdeasSettings,
    topics=lambda topics: [topics.ideas, topics.validation, topics.dead_letter(CONSUMER)],
    assemble=assemble,
)
# In-process runs (the tests) start the service as its process would.
serve = SERVICE.serve


if __name__ == "__main__":
    SERVICE.main()
