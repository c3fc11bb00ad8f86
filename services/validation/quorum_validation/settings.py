from __future__ import annotations

from quorum_common.settings import ServiceSettings, listen_host, listen_port, own_database


class ValidationSettings(ServiceSettings):
    validation_grpc_host: str = listen_host("validation API")
    validation_grpc_port: int = listen_port("validation API", 50062)
    validation_mongodb_database: str = own_database(
        "quorum_validation", "The validation service's own database"
    )
