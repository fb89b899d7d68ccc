"""When a parsed schedule fires: the moments (UTC) in a span of time, for estimates.

`fire_times(schedule, start, end)` lists every moment in `[start, end)` at which a `Schedule`
(from `infra.declarations.schedule`) runs: fixed-time schedules on the days their kind chooses
(every day, weekdays, days of the month, the nth weekday of the month) in the months they name;
interval schedules every `interval_minutes` from midnight, or within their `from A to B` window
from its start (a window may cross midnight).

Deliberately approximate where the service is not predictable: an interval schedule that is not
`synchronized` counts, in the service, from its previous run; here it counts from midnight (or its
window's start) like a synchronized one. Its callers (the snapshot storage estimate) count runs,
so the phase does not matter.
"""

from __future__ import annotations

import datetime as dt

from infra.declarations.schedule import DAY_MINUTES, Schedule


def fire_times(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every moment in `[start, end)` (aware datetimes) at which `schedule` fires, in order."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("fire_times needs aware datetimes")
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    out: list[dt.datetime] = []
    day = start.date() - dt.timedelta(days=1)  # a window crossing midnight starts the day before
    while day <= end.date():
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        for minutes in _minutes_of(schedule, day):
            moment = midnight + dt.timedelta(minutes=minutes)
            if start <= moment < end:
                out.append(moment)
        day += dt.timedelta(days=1)
    return out


def _minutes_of(schedule: Schedule, day: dt.date) -> list[int]:
    """Minutes after `day`'s midnight at which the schedule fires, counted from that day (a
    window that crosses midnight yields minutes past 24 hours)."""
    if schedule.kind == "interval":
        step = schedule.interval_minutes or DAY_MINUTES
        if schedule.window is None:
            return list(range(0, DAY_MINUTES, step))
        first, last = schedule.window
        span = (last - first) % DAY_MINUTES
        return [first + k for k in range(0, span + 1, step)]
    if day.month not in schedule.months or not _runs_on(schedule, day):
        return []
    return [schedule.time_of_day or 0]


def _runs_on(schedule: Schedule, day: dt.date) -> bool:
    weekday = day.isoweekday()
    if schedule.kind in ("daily", "weekly"):
        return weekday in schedule.weekdays
    if schedule.monthdays:
        return day.day in schedule.monthdays
    nth = (day.day - 1) // 7 + 1  # the 1st..5th of this weekday in the month
    return weekday in schedule.weekdays and nth in schedule.ordinals
