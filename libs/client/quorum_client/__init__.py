"""Python client and CLI for Quorum's public gRPC API."""
