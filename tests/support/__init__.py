"""Test support: where Kafka and MongoDB come from, and per-test isolation."""
