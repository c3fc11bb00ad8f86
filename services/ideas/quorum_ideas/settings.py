from __future__ import annotations

from quorum_common.settings import ServiceSettings, listen_host, listen_port, own_database


class IdeasSettings(ServiceSettings):
    ideas_grpc_host: str = listen_host("ideas API")
    ideas_grpc_port: int = listen_port("ideas API", 50061)
    ideas_mongodb_database: str = own_database("quorum_ideas", "The ideas service's own database")
