"""The stand-in gateway the CLI's unit tests call (tests/support/fake_gateway.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.fake_gateway import FakeGateway, serve_fake_gateway


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    yield from serve_fake_gateway()
