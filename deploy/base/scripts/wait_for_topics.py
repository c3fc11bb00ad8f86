"""Init container: wait until every topic in TOPICS exists (created by the Topic Operator).

A service creates missing topics itself at start (fine on a laptop). On a cluster the
KafkaTopic resources own partitions, replication and retention, so the services must
not win that race. Runs with the service's own image (aiokafka is in it).

Environment: KAFKA_BOOTSTRAP_SERVERS, TOPICS (comma separated), KAFKA_TOPIC_PREFIX,
WAIT_SECONDS (default 600; then exit 1 and let Kubernetes retry).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient


async def missing_topics(bootstrap: str, wanted: set[str]) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=5000)
    try:
        await admin.start()
        return wanted - set(await admin.list_topics())
    finally:
        await admin.close()


async def main() -> int:
    prefix = os.environ.get("KAFKA_TOPIC_PREFIX", "")
    wanted = {prefix + t.strip() for t in os.environ["TOPICS"].split(",") if t.strip()}
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    deadline = time.monotonic() + float(os.environ.get("WAIT_SECONDS", "600"))
    while True:
        try:
            missing = await missing_topics(bootstrap, wanted)
        except Exception as error:  # broker not up yet: the same as "not yet"
            missing, reason = wanted, f"{type(error).__name__}: {error}"
        else:
            reason = "not created yet"
        if not missing:
            print(f"topics ready: {', '.join(sorted(wanted))}", flush=True)
            return 0
        if time.monotonic() > deadline:
            print(f"gave up waiting for {', '.join(sorted(missing))} ({reason})", file=sys.stderr)
            return 1
        print(f"waiting for {', '.join(sorted(missing))} ({reason})", flush=True)
        await asyncio.sleep(3)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
