"""ClockLink: bounds of (local - server) from requests' timing."""

from __future__ import annotations

import pytest

from aiofeishu._clock_link import DRIFT, ClockLink

OFFSET = 1000.0  # local clock reads 1000 s more than the server's


def test_a_single_reply_bounds_the_offset_by_its_round_trip() -> None:
    link = ClockLink()
    link.observe(sent=1010.0, received=1010.2, server_now=10.1)
    assert link.not_before(20.0) == pytest.approx(20.0 + 1000.1)  # never early
    assert link.not_after(20.0) == pytest.approx(20.0 + 999.9)  # lateness never underestimated


def test_replies_narrow_the_bounds_to_the_fastest_round_trip() -> None:
    link = ClockLink()
    link.observe(sent=1000.0, received=1000.5, server_now=0.45)  # a cold, slow connection
    link.observe(sent=1000.6, received=1000.601, server_now=0.6 - 0.0005 + 0.001)
    width = link.not_before(0.0) - link.not_after(0.0)
    assert width <= 0.001 + 1e-9
    assert link.not_after(0.0) <= OFFSET <= link.not_before(0.0)


def test_old_bounds_widen_with_the_allowed_drift() -> None:
    link = ClockLink()
    link.observe(sent=1000.0, received=1000.001, server_now=0.0005)
    link.observe(sent=1100.0, received=1100.2, server_now=100.1)  # 100 s later, slow
    # The first reply's tight bounds still count, widened by 100 s of drift.
    assert link.not_before(0.0) == pytest.approx(1000.0005 + 100 * DRIFT, abs=2e-4)
    assert link.not_after(0.0) == pytest.approx(999.9995 - 100 * DRIFT, abs=2e-4)


def test_a_stepped_clock_starts_over_from_the_new_reply() -> None:
    link = ClockLink()
    link.observe(sent=1000.0, received=1000.001, server_now=0.0005)
    link.observe(sent=1001.0, received=1001.001, server_now=31.0005)  # server stepped +30 s
    assert link.not_after(0.0) == pytest.approx(970.0, abs=0.002)
    assert link.not_before(0.0) == pytest.approx(970.0, abs=0.002)
