"""`python -m quorum_gateway`: the public gRPC entry point, and the HTTP/JSON door to it."""

from __future__ import annotations

import logging

import grpc
from starlette.routing import Route

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_common import tls
from quorum_common.grpc_server import GrpcServer
from quorum_common.secretbox import SecretBox
from quorum_common.service import Assembled, Service, Setup, Worker
from quorum_gateway.access_api import AccessApi
from quorum_gateway.api import Gateway
from quorum_gateway.auth import AuthInterceptor
from quorum_gateway.backends import Backends
from quorum_gateway.directory_api import DirectoryApi, PolicyApi
from quorum_gateway.eventlog import EventLog
from quorum_gateway.events_api import EventsApi
from quorum_gateway.gates_api import GatesApi
from quorum_gateway.http_server import HttpServer
from quorum_gateway.idea_cache import IdeaCache, forgetting
from quorum_gateway.ideas_api import IdeasApi
from quorum_gateway.inbound import PATH as INBOUND_PATH
from quorum_gateway.inbound import InboundDoor
from quorum_gateway.inbound_api import InboundApi
from quorum_gateway.inbound_store import InboundStore
from quorum_gateway.insights_api import InsightsApi
from quorum_gateway.keys import KeyStore
from quorum_gateway.notifications_api import NotificationsApi
from quorum_gateway.peer_visibility import PeerVisibility
from quorum_gateway.peers_api import PeersApi
from quorum_gateway.ratelimit import RateLimiter
from quorum_gateway.requests import check_request
from quorum_gateway.settings import GatewaySettings

log = logging.getLogger("quorum_gateway")
NAME = "gateway"
SERVICE_NAMES = [s.full_name for s in gateway_pb2.DESCRIPTOR.services_by_name.values()]


async def assemble(setup: Setup[GatewaySettings]) -> Assembled:
    settings, topics, database = setup.settings, setup.topics, setup.database
    keys = KeyStore(database, settings.gateway_key_cache_seconds)
    await keys.create_indexes()
    inbound = InboundStore(database)
    await inbound.create_indexes()
    event_log = EventLog(database)
    await event_log.create_indexes()
    box = SecretBox(settings.gateway_secrets_key.get_secret_value())
    if box.development:
        log.warning(
            "GATEWAY_SECRETS_KEY is not set: inbound endpoints' secrets are encrypted with "
            "the public development key (set a key of your own outside development)"
        )
    ideas = IdeaCache(settings.gateway_idea_cache_seconds)
    internal = tls.internal(settings)
    backends = Backends(
        settings.ideas_address,
        settings.validation_address,
        settings.notifications_address,
        settings.gateway_backend_timeout_seconds,
        credentials=internal.channel() if internal else None,
    )
    limiter = RateLimiter(settings.gateway_rate_limit_per_second, settings.gateway_rate_limit_burst)
    server = GrpcServer(
        settings.gateway_grpc_host,
        settings.gateway_grpc_port,
        SERVICE_NAMES,
        interceptors=[AuthInterceptor(keys, limiter)],
        max_message_bytes=settings.gateway_max_message_bytes,
        request_check=check_request,
        credentials=public_credentials(settings),
    )
    gateway = Gateway(
        backends, ideas, PeerVisibility(settings.gateway_peer_visibility_cache_seconds)
    )
    gateway_pb2_grpc.add_IdeasServiceServicer_to_server(IdeasApi(gateway), server.server)
    gateway_pb2_grpc.add_GatesServiceServicer_to_server(GatesApi(gateway), server.server)
    gateway_pb2_grpc.add_DirectoryServiceServicer_to_server(DirectoryApi(gateway), server.server)
    gateway_pb2_grpc.add_PolicyServiceServicer_to_server(PolicyApi(gateway), server.server)
    gateway_pb2_grpc.add_AccessServiceServicer_to_server(AccessApi(keys), server.server)
    gateway_pb2_grpc.add_EventsServiceServicer_to_server(EventsApi(event_log), server.server)
    gateway_pb2_grpc.add_InsightsServiceServicer_to_server(InsightsApi(gateway), server.server)
    gateway_pb2_grpc.add_PeersServiceServicer_to_server(PeersApi(gateway), server.server)
    gateway_pb2_grpc.add_NotificationsServiceServicer_to_server(
        NotificationsApi(gateway), server.server
    )
    gateway_pb2_grpc.add_InboundServiceServicer_to_server(
        InboundApi(inbound, keys, box), server.server
    )
    inbound_door = InboundDoor(inbound, keys, box, settings.gateway_http_max_body_bytes)
    http = HttpServer(
        settings.gateway_http_host,
        settings.gateway_http_port,
        grpc_target=server.add_private_port(),
        max_body_bytes=settings.gateway_http_max_body_bytes,
        cert_file=settings.gateway_tls_cert_file,
        key_file=settings.gateway_tls_key_file,
        routes=[Route(INBOUND_PATH, inbound_door.receive, methods=["POST"])],
    )
    inbound_door.use(http.door)

    async def health_changed(serving: bool) -> None:
        await server.set_serving(serving)
        state = "serving" if serving else "waiting for backends"
        log.info("gateway %s on %s", state, server.address)

    return Assembled(
        server,
        parts=[
            Worker("backend-health", lambda: backends.watch_health(health_changed)),
            Worker("event-log-changes", lambda: event_log.follow_changes(ideas.forget)),
            setup.consuming(
                [topics.ideas, topics.validation, topics.notifications],
                forgetting(ideas, event_log.append),
                # Each event is stored under its id: the event log is its own mark.
                marks=False,
                after_commit=event_log.appended,
            ),
        ],
        doors=[http],
        closing=[backends.close],
        # NOT_SERVING until the backends answer (the health watch reports them).
        serving=False,
        describe=f"; HTTP/JSON API on {http.address} ({'https' if http.tls else 'http'})",
    )


def public_credentials(settings: GatewaySettings) -> grpc.ServerCredentials | None:
    """TLS on the public gRPC port when GATEWAY_TLS_CERT_FILE/KEY_FILE are set."""
    if not settings.gateway_tls_cert_file:
        return None
    identity = tls.Identity.load(
        settings.gateway_tls_cert_file, settings.gateway_tls_key_file, "GATEWAY_TLS"
    )
    return tls.server_credentials(identity)


SERVICE = Service(
    name=NAME,
    settings=GatewaySettings,
    listens=lambda settings: (settings.gateway_grpc_host, settings.gateway_grpc_port),
    database=lambda settings: settings.gateway_mongodb_database,
    topics=lambda topics: [
        topics.ideas,
        topics.validation,
        topics.notifications,
        topics.dead_letter(NAME),
    ],
    assemble=assemble,
)
# In-process runs (the tests) start the service as its process would.
serve = SERVICE.serve


if __name__ == "__main__":
    SERVICE.main()
