"""Schedule parsing: what is accepted and what it means, the reason and fix for what is not, and
the order check between an upstream and a downstream schedule."""

from __future__ import annotations

import datetime as dt

import pytest

from infra.checks.run_order import must_run_after
from infra.declarations.schedule import Schedule, ScheduleError, parse_schedule
from infra.declarations.schedule_runs import fire_times

ALL_MONTHS = tuple(range(1, 13))


@pytest.mark.parametrize("text, normalised, kind, time_of_day, interval", [
    # intervals
    ("every 15 minutes", "every 15 minutes", "interval", None, 15),
    ("every 5 minutes", "every 5 minutes", "interval", None, 5),
    ("every 30 mins", "every 30 mins", "interval", None, 30),
    ("every 1 hours", "every 1 hours", "interval", None, 60),
    ("every 24 hours", "every 24 hours", "interval", None, 1440),
    ("every 3 hours from 08:10 to 18:10", "every 3 hours from 08:10 to 18:10", "interval", None, 180),
    ("every 2 hours from 22:00 to 02:00", "every 2 hours from 22:00 to 02:00", "interval", None, 120),
    ("every 6 hours synchronized", "every 6 hours synchronized", "interval", None, 360),
    ("every 15 minutes synchronized", "every 15 minutes synchronized", "interval", None, 15),
    ("EVERY 10 Minutes", "every 10 minutes", "interval", None, 10),
    # every day / weekdays
    ("every day 04:10", "every day 04:10", "daily", 250, None),
    ("every day 23:59", "every day 23:59", "daily", 1439, None),
    ("every day 00:01", "every day 00:01", "daily", 1, None),
    ("  Every   DAY   04:10  ", "every day 04:10", "daily", 250, None),
    ("every\tday 04:10", "every day 04:10", "daily", 250, None),
    ("every monday 07:45", "every monday 07:45", "weekly", 465, None),
    ("every monday,friday 04:10", "every monday,friday 04:10", "weekly", 250, None),
    ("every Mon , FRI 04:10", "every mon,fri 04:10", "weekly", 250, None),
    ("every tue,wed,thu,sat,sun 04:10", "every tue,wed,thu,sat,sun 04:10", "weekly", 250, None),
    ("every wed,fri of jan,jun 13:15", "every wed,fri of jan,jun 13:15", "weekly", 795, None),
    ("every day of quarter 04:10", "every day of quarter 04:10", "daily", 250, None),
    # nth weekday of the month
    ("1st,3rd monday of month 04:10", "1st,3rd monday of month 04:10", "monthly", 250, None),
    ("first sunday of quarter 04:10", "first sunday of quarter 04:10", "monthly", 250, None),
    ("2nd,fourth tue of month 04:10", "2nd,fourth tue of month 04:10", "monthly", 250, None),
    ("5th,fifth,third friday of month 04:10", "5th,fifth,third friday of month 04:10", "monthly", 250, None),
    ("1st monday of jan,apr,jul,oct 04:10", "1st monday of jan,apr,jul,oct 04:10", "monthly", 250, None),
    ("First Monday Of January 04:10", "first monday of january 04:10", "monthly", 250, None),
    # days of the month
    ("1,15 of month 04:10", "1,15 of month 04:10", "monthly", 250, None),
    ("1 of jan,jul 06:30", "1 of jan,jul 06:30", "monthly", 390, None),
    ("1 , 15 of  month 04:10", "1,15 of month 04:10", "monthly", 250, None),
    ("31 of month 04:10", "31 of month 04:10", "monthly", 250, None),
    ("29 of feb 04:10", "29 of feb 04:10", "monthly", 250, None),
    ("1 of quarter 04:10", "1 of quarter 04:10", "monthly", 250, None),
])
def test_accepted(text, normalised, kind, time_of_day, interval):
    schedule = parse_schedule(text)
    assert schedule.text == normalised
    assert schedule.kind == kind
    assert schedule.time_of_day == time_of_day
    assert schedule.interval_minutes == interval


def test_normalised_text_parses_to_the_same_schedule():
    schedule = parse_schedule("  Every Mon , FRI   Of  Jan,JUN 04:10 ")
    assert parse_schedule(schedule.text) == schedule


@pytest.mark.parametrize("text, weekdays, ordinals, monthdays, months", [
    ("every day 04:10", (1, 2, 3, 4, 5, 6, 7), (), (), ALL_MONTHS),
    ("every friday,monday 04:10", (1, 5), (), (), ALL_MONTHS),
    ("every wed,fri of jan,jun 13:15", (3, 5), (), (), (1, 6)),
    ("1st,3rd monday of month 04:10", (1,), (1, 3), (), ALL_MONTHS),
    ("first sunday of quarter 04:10", (7,), (1,), (), (1, 4, 7, 10)),
    ("15,1 of month 04:10", (), (), (1, 15), ALL_MONTHS),
    ("1 of january,jul 06:30", (), (), (1,), (1, 7)),
])
def test_days_and_months(text, weekdays, ordinals, monthdays, months):
    schedule = parse_schedule(text)
    assert (schedule.weekdays, schedule.ordinals, schedule.monthdays, schedule.months) == \
        (weekdays, ordinals, monthdays, months)


@pytest.mark.parametrize("text, window, synchronized, runs", [
    ("every 15 minutes", None, False, 96),
    ("every 7 hours", None, False, 4),
    ("every 3 hours from 08:10 to 18:10", (490, 1090), False, 4),
    ("every 2 hours from 22:00 to 02:00", (1320, 120), False, 3),
    ("every 6 hours synchronized", None, True, 4),
    ("every day 04:10", None, False, 1),
])
def test_interval_details(text, window, synchronized, runs):
    schedule = parse_schedule(text)
    assert (schedule.window, schedule.synchronized, schedule.runs_per_day_max) == \
        (window, synchronized, runs)


def test_intervals_on_the_hour_are_fine():
    assert parse_schedule("every 1 hours from 08:00 to 18:00").window == (480, 1080)


@pytest.mark.parametrize("text, what", [
    # the cases the project must reject
    ("daily 04:10", "'daily' is not a word"),
    ("every day 4:10pm", "'4:10pm' is not 24-hour"),
    ("every day 25:10", "'25:10' does not exist"),
    ("every 2 minutes", "every 2 minutes"),
    ("every 0 hours", "interval is zero"),
    ("every funday 04:10", "unknown weekday 'funday'"),
    ("32 of month 04:10", "day of month 32 does not exist"),
    ("every day 04:00", "exactly on the hour"),
    ("", "empty"),
    ("every day", "no time of day"),
    ("1st monday of year 04:10", "'year' after `of`"),
    ("every 3 hours from 25:00 to 02:00", "'25:00' does not exist"),
    # units groc does not know, and other near misses
    ("every hour", "needs a number"),
    ("every 1 hour", "'hour' is not a unit"),
    ("every 2 hrs", "'hrs' is not a unit"),
    ("every 10 minute", "'minute' is not a unit"),
    ("every 30 seconds", "not seconds"),
    ("every 3 fortnights", "unknown unit 'fortnights'"),
    ("every 5", "no unit"),
    ("every 3 hours foo", "unexpected 'foo'"),
    ("every 7 hours synchronized", "divides 24 hours"),
    ("every 3 hours from 08:10 to 08:10", "same minute"),
    ("every 3 hours from 8 to 18:10", "'8' is not a time"),
    ("every day 4:10", "two digits"),
    ("every day 4pm", "'4pm' is not 24-hour"),
    ("every day 04:60", "'04:60' does not exist"),
    ("every day at 04:10", "no `at`"),
    ("every 04:10", "`every` needs `day` or weekdays"),
    ("every weekday 04:10", "'weekday' is not a weekday"),
    ("every mon,,fri 04:10", "empty weekday"),
    ("monday 04:10", "need `every` or an ordinal"),
    ("04:10", "does not say on which days"),
    ("tomorrow 04:10", "'tomorrow' is not understood"),
    ("last friday of month 04:10", "no `last`"),
    ("6th monday of month 04:10", "ordinal '6th'"),
    ("1st monday 04:10", "needs `of`"),
    ("1st day of month 04:10", "`1st day` is not supported"),
    ("1st monday,funday of month 04:10", "unknown weekday 'funday'"),
    ("15 04:10", "need `of`"),
    ("0 of month 04:10", "day of month 0 does not exist"),
    ("30 of feb 04:10", "day 30 never comes"),
    ("1,31 of apr,jun 04:10", "day 31 never comes"),
    ("1 of jan,foo 04:10", "unknown month 'foo'"),
    ("1st monday of 04:10", "nothing follows `of`"),
    ("1 of 2nd month of quarter 04:10", "`2nd month of quarter` is not supported"),
    ("   ", "empty"),
    (None, "must be text"),
    (410, "must be text"),
])
def test_rejected_with_reason_and_fix(text, what):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert what in caught.value.what
    assert caught.value.fix


@pytest.mark.parametrize("text", ["daily 04:10", "every day 25:10", "every funday 04:10"])
def test_what_quotes_the_input(text):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert repr(text) in caught.value.what


def test_is_a_value_error():
    with pytest.raises(ValueError):
        parse_schedule("daily 04:10")


@pytest.mark.parametrize("text, fix", [
    ("daily 04:10", "`every day 04:10`"),
    ("daily 04:00", "`every day 04:10`"),          # the example is itself accepted: off the hour
    ("every day 4pm", "`every day 16:10`"),
    ("every day 4:10pm", "`every day 16:10`"),
    ("every day 4:10", "`every day 04:10`"),
    ("every day 04:00", "`every day 04:10`"),
    ("every 2 minutes", "minimum interval is 5 minutes"),
    ("every hour", "`every 1 hours`"),
    ("every 2 hrs", "`every 2 hours`"),
    ("every 2 days", "`every 48 hours`"),
    ("every 7 hours synchronized", "`every 6 hours synchronized`"),
    ("every funday 04:10", "`every sunday 04:10`"),
    ("every 04:10", "`every day 04:10`"),
    ("every weekday 04:10", "`every mon,tue,wed,thu,fri 04:10`"),
    ("every day at 04:10", "`every day 04:10`"),
    ("every day", "`every day 04:10`"),
    ("1st monday of year 04:10", "`1st monday of jan 04:10`"),
    ("1st monday 04:10", "`1st monday of month 04:10`"),
    ("1st day of month 04:10", "`1 of month 04:10`"),
    ("1 of 2nd month of quarter 04:10", "`1 of feb,may,aug,nov 04:10`"),
    ("30 of feb 04:10", "`29 of feb 04:10`"),
    ("1,31 of apr,jun 04:10", "`1 of apr,jun 04:10`"),
    ("32 of month 04:10", "1-31"),
])
def test_fix_is_an_example_close_to_the_input(text, fix):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert fix in caught.value.fix


@pytest.mark.parametrize("text", [
    "daily 04:00", "every day 4pm", "every day 04:00", "every funday 04:10", "every 2 hrs",
    "every hour", "every 7 hours synchronized", "every 04:10", "1st monday of year 04:10",
    "1st monday 04:10", "1 of 2nd month of quarter 04:10", "30 of feb 04:10",
])
def test_the_example_in_the_fix_is_accepted(text):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    example = caught.value.fix.split("`")[-2]  # the last `quoted` example
    assert isinstance(parse_schedule(example), Schedule)


# --- must_run_after ------------------------------------------------------------------------

def _order(downstream: str, upstream: str, margin: int = 30) -> str | None:
    return must_run_after(parse_schedule(downstream), parse_schedule(upstream), margin)


@pytest.mark.parametrize("downstream, upstream, margin", [
    ("every day 05:10", "every day 04:10", 30),          # an hour later
    ("every day 04:40", "every day 04:10", 30),          # exactly the margin
    ("every day 04:10", "every day 04:10", 0),           # no margin asked
    ("every monday 06:10", "every day 04:10", 30),       # kinds may differ: only the time counts
    ("1 of month 06:10", "every day 04:10", 30),
    ("every day 04:10", "every 15 minutes", 30),         # interval upstream: always fine
    ("every 15 minutes", "every day 04:10", 30),         # interval downstream: always fine
    ("every 5 minutes", "every 1 hours", 30),
])
def test_order_fine(downstream, upstream, margin):
    assert _order(downstream, upstream, margin) is None


@pytest.mark.parametrize("downstream, upstream, margin, words", [
    ("every day 04:20", "every day 04:10", 30, ["only 10 minutes after", "04:40 or later"]),
    ("every day 04:10", "every day 04:10", 30, ["at the same time as"]),
    ("every day 03:10", "every day 04:10", 30, ["before", "03:10", "04:10", "04:40 or later"]),
    ("every day 00:30", "every day 23:30", 30, ["before"]),          # no wrap-around
    ("every day 04:45", "every day 04:30", 30, ["05:10 or later"]),  # suggestion off the hour
    ("every day 23:59", "every day 23:50", 30, ["only 9 minutes after", "move the upstream earlier"]),
])
def test_order_wrong(downstream, upstream, margin, words):
    reason = _order(downstream, upstream, margin)
    assert reason is not None
    for word in words:
        assert word in reason
    assert repr(parse_schedule(downstream).text) in reason


def test_negative_margin_is_a_programming_error():
    with pytest.raises(ValueError):
        _order("every day 05:10", "every day 04:10", -1)


# --- when a schedule fires (for estimates) -------------------------------------------------------

YEAR = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(("text", "count", "first"), [
    ("every day 04:10", 365, "2026-01-01 04:10"),
    ("every sunday 06:20", 52, "2026-01-04 06:20"),  # 2026-01-01 is a Thursday
    ("1 of month 06:40", 12, "2026-01-01 06:40"),
    ("1st,3rd monday of month 04:10", 24, "2026-01-05 04:10"),
    ("first sunday of quarter 04:10", 4, "2026-01-04 04:10"),
    ("every wed,fri of jan,jun 13:15", 17, "2026-01-02 13:15"),  # 9 in January, 8 in June
    ("every 6 hours synchronized", 365 * 4, "2026-01-01 00:00"),
    ("every 2 hours from 22:10 to 02:10", 365 * 3, "2026-01-01 00:10"),  # 22:10, 00:10, 02:10
    ("29 of feb 04:10", 0, None),  # 2026 is not a leap year
])
def test_fire_times(text, count, first):
    times = fire_times(parse_schedule(text), *YEAR)
    assert len(times) == count
    assert times == sorted(times) and all(YEAR[0] <= t < YEAR[1] for t in times)
    if first:
        assert f"{times[0]:%Y-%m-%d %H:%M}" == first


def test_fire_times_needs_aware_datetimes():
    with pytest.raises(ValueError, match="aware"):
        fire_times(parse_schedule("every day 04:10"), dt.datetime(2026, 1, 1), YEAR[1])
