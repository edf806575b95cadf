"""The pacer that keeps batch calls under QuickBooks' limit a minute per company."""

from __future__ import annotations

from sync.quickbooks.client import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_calls_under_the_limit_never_wait_and_the_next_waits_for_the_oldest_to_age():
    clock = Clock()
    pacer = Pacer(limit=3, window=60.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert pacer.wait("realm") == 0
        clock.now += 1
    assert pacer.wait("realm") == 57.0  # the first call (at 1000) frees its place at 1060
    assert clock.now == 1060.0
    assert pacer.wait("other") == 0  # another company has its own window


def test_a_quiet_minute_frees_every_place():
    clock = Clock()
    pacer = Pacer(limit=2, window=60.0, clock=clock, sleep=clock.sleep)
    pacer.wait("r")
    pacer.wait("r")
    clock.now += 61
    assert pacer.wait("r") == 0 and pacer.wait("r") == 0
    assert clock.slept == []


def test_waiting_callers_take_successive_places_not_the_same_one():
    clock = Clock()
    pacer = Pacer(limit=2, window=60.0, clock=clock, sleep=lambda s: None)  # nobody sleeps
    assert [pacer.wait("r") for _ in range(4)] == [0, 0, 60.0, 60.0]
    assert pacer.wait("r") == 120.0  # the fifth waits for the third's place to free
