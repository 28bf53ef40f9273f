"""The shortest gap between two ticks of a cron schedule (issue 19, item 2: schedules finer than a minimum)."""

from __future__ import annotations

import pytest

from service.schemas.models import shortest_schedule_gap_seconds


@pytest.mark.parametrize(("schedule", "gap"), [
    ("* * * * * *", 1), ("0 3 * * * 1,2", 1), ("* * * * *", 60), ("*/5 * * * *", 300), ("0,30 3 * * *", 1800),
    ("0 * * * *", 3600), ("@hourly", 3600), ("30 */2 * * *", 7200), ("0 0,23 * * 1", 3600), ("@daily", 86400),
    ("0 3 1 * *", 86400),
])
def test_the_shortest_gap_between_ticks(schedule, gap):
    assert shortest_schedule_gap_seconds(schedule) == gap
