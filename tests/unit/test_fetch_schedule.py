"""When a consumer fetches again: the linger under load, idle pauses on noida-db only."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import TopicPartition

from quorum_common.fetch_schedule import IDLE_PAUSE_MIN_S, FetchSchedule

PARTITIONS = [TopicPartition("t", 0), TopicPartition("t", 1)]


class Consumer:
    """The four calls FetchSchedule makes on an AIOKafkaConsumer."""

    def __init__(self) -> None:
        self.paused_now: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return set(PARTITIONS)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused_now.update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self.paused_now)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused_now.difference_update(partitions)


def schedule(longest: float, linger: float) -> tuple[FetchSchedule, Consumer]:
    consumer = Consumer()
    fake: Any = consumer
    return FetchSchedule(fake, longest, linger), consumer


def resumes_in(plan: FetchSchedule) -> float | None:
    resume_at = plan._resume_at
    return None if resume_at is None else resume_at - time.monotonic()


def test_after_records_every_partition_waits_the_linger() -> None:
    plan, consumer = schedule(longest=0.0, linger=0.03)
    plan.after_poll(brought_records=True, full=False)
    assert consumer.paused_now == set(PARTITIONS)
    wait = resumes_in(plan)
    assert wait is not None
    assert 0.0 < wait <= 0.03


def test_a_full_batch_fetches_again_at_once() -> None:
    plan, consumer = schedule(longest=0.1, linger=0.03)
    plan.after_poll(brought_records=True, full=True)
    assert consumer.paused_now == set()
    assert resumes_in(plan) is None


def test_without_a_linger_records_are_fetched_again_at_once() -> None:
    plan, consumer = schedule(longest=0.0, linger=0.0)
    plan.after_poll(brought_records=True, full=False)
    assert consumer.paused_now == set()


def test_on_kafka_an_empty_poll_never_pauses() -> None:
    # Kafka holds an empty fetch itself: a pause would only add latency.
    plan, consumer = schedule(longest=0.0, linger=0.03)
    plan.after_poll(brought_records=False, full=False)
    assert consumer.paused_now == set()


def test_on_a_broker_that_answers_at_once_an_idle_consumer_pauses() -> None:
    plan, consumer = schedule(longest=0.1, linger=0.03)
    plan.after_poll(brought_records=False, full=False)
    assert consumer.paused_now == set(PARTITIONS)
    wait = resumes_in(plan)
    # The first quiet poll waits the shortest pause, not the linger: an event arriving
    # at an idle consumer is not held back by the linger meant for a busy one.
    assert wait is not None
    assert 0.0 < wait <= IDLE_PAUSE_MIN_S


async def test_waiting_resumes_every_paused_partition() -> None:
    plan, consumer = schedule(longest=0.0, linger=0.001)
    plan.after_poll(brought_records=True, full=False)
    await plan.wait_for_the_next_fetch()
    assert consumer.paused_now == set()
    assert resumes_in(plan) is None
