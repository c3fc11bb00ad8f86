"""Developer tooling for Quorum: nothing here runs in production."""
