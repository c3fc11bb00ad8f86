"""The client and the `quorum` CLI, one file per command group.

The CLI's tests run it against the in-process stand-in gateway
(tests/support/fake_gateway.py), which records what it was asked.
"""
