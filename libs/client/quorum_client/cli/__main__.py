"""`python -m quorum_client.cli`: what the `quorum` script runs."""

from quorum_client.cli import app

app(prog_name="quorum")
