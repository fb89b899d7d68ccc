"""Schedules of scheduled queries, parsed once from the strings the Data Transfer Service takes.

A scheduled query runs on a schedule written in App Engine's cron grammar ("groc"), in UTC:

    every 15 minutes                    every day 04:10
    every 2 hours from 08:10 to 18:10   every monday,friday 04:10
    every 6 hours synchronized          every wed,fri of jan,jun 13:15
    1,15 of month 04:10                 1st,3rd monday of month 04:10
    1 of jan,jul 06:30                  first sunday of quarter 04:10

`parse_schedule` accepts that grammar (keywords in any case, extra spaces anywhere) and returns a
frozen `Schedule`; its `text` is the normalised string (lower case, single spaces) to hand to the
service, and its `kind` says how the days are chosen (every N minutes or hours, every day, by
weekday, by day or nth weekday of the month), `months` in which months. It raises
`ScheduleError(what, fix)` for what the service would reject and for what this project forbids:
intervals under 5 minutes (the service's minimum for scheduled queries), fixed times exactly on
the hour (they may fire twice, see PITFALLS.md; interval schedules are exempt) and days of the
month that never come in the months named (`30 of feb`; groc only wants one listed day to come).

Grammar decisions, following groc's own lexer and parser where habit differs:
- Interval units are `minutes`, `mins` and `hours`, always after a number. Groc knows no `hour`,
  `hrs` or `minute`, so `every hour` and `every 1 hour` are rejected; `every 1 hours` is hourly.
- Ordinals are `1st`..`5th` and `first`..`fifth`. Groc has no `last`.
- After `of`: `month`, `quarter` (jan, apr, jul, oct) or months (`jan,jul`, `january`).
  `every <weekdays or day> of <months>` is accepted: the service's own documentation uses it.
- Times are two-digit `HH:MM`; groc would also take `4:10`, one spelling is easier to review.
- `synchronized` only for intervals that divide 24 hours (groc's rule); `from A to B` may cross
  midnight, but not start and end at the same minute.

Deliberately left out, and rejected with the equivalent form as the fix: the rarely used groc
forms `<ordinal> day` (write `1,3 of month`), `<ordinal> <weekday>` without `of` (add
`of month`) and `<ordinal> month of quarter` (list the months); time zones other than UTC.

Deliberately not here: whether a query runs after its inputs (`infra.checks.run_order`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["interval", "daily", "weekly", "monthly"]

MIN_INTERVAL_MINUTES = 5  # the Data Transfer Service's minimum for scheduled queries
DAY_MINUTES = 24 * 60
_EXAMPLE_TIME = "04:10"
_FORMS = ("write one of `every 15 minutes`, `every day 04:10`, `every monday,friday 04:10`, "
          "`1st,3rd monday of month 04:10` or `1,15 of month 04:10` (times in UTC)")

# Groc's lexer: HOURS is `hours`, MINUTES is `mins` or `minutes`; nothing else is a unit.
_UNITS = {"minutes": 1, "mins": 1, "hours": 60}
# What people write instead: the unit groc knows, and how many of it one of these is.
_UNIT_FIXES = {"minute": ("minutes", 1), "min": ("minutes", 1), "m": ("minutes", 1),
               "hour": ("hours", 1), "hrs": ("hours", 1), "hr": ("hours", 1), "h": ("hours", 1),
               "day": ("hours", 24), "days": ("hours", 24)}
# A second word that makes `every ...` an interval (with or without its number).
_INTERVAL_WORDS = set(_UNITS) | {"minute", "min", "hour", "hrs", "hr"}


def _names(full_names: tuple[str, ...]) -> dict[str, int]:
    """Full names and their three-letter forms, numbered from 1 (groc's spellings)."""
    return {name: number for number, full in enumerate(full_names, start=1)
            for name in (full, full[:3])}


_WEEKDAYS = _names(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
_MONTHS = _names(("january", "february", "march", "april", "may", "june", "july", "august",
                  "september", "october", "november", "december"))
_ORDINALS = {"1st": 1, "first": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3,
             "4th": 4, "fourth": 4, "5th": 5, "fifth": 5}
_ALL_MONTHS = tuple(range(1, 13))
_QUARTER_MONTHS = (1, 4, 7, 10)
# February counted with 29 days: the 29th does come, in leap years.
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Words that mean a schedule groc spells differently, and how to spell it (`{t}` is the time).
_SYNONYMS = {"daily": "every day {t}", "weekly": "every monday {t}", "monthly": "1 of month {t}",
             "hourly": "every 1 hours", "quarterly": "1 of quarter {t}",
             "weekday": "every mon,tue,wed,thu,fri {t}", "weekdays": "every mon,tue,wed,thu,fri {t}",
             "weekend": "every sat,sun {t}", "weekends": "every sat,sun {t}"}
_TIME = re.compile(r"^(?P<hour>[0-9]{1,2})(?::(?P<minute>[0-9]{1,2}))?(?P<half>am|pm)?$")


class ScheduleError(ValueError):
    """A schedule that is not acceptable: `what` is wrong (quoting it), `fix` shows how."""

    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.what = what
        self.fix = fix


@dataclass(frozen=True)
class Schedule:
    """One parsed schedule; fields that do not apply to its kind keep their defaults."""

    text: str                               # normalised: what to hand to the service
    kind: Kind
    interval_minutes: int | None = None     # interval schedules only
    time_of_day: int | None = None          # minutes after midnight UTC; fixed-time schedules only
    window: tuple[int, int] | None = None   # `from A to B` of an interval, minutes after midnight
    synchronized: bool = False
    weekdays: tuple[int, ...] = ()          # 1 = monday .. 7 = sunday; empty for days of month
    ordinals: tuple[int, ...] = ()          # `1st,3rd monday`: which of those weekdays in a month
    monthdays: tuple[int, ...] = ()         # `1,15 of month`
    months: tuple[int, ...] = _ALL_MONTHS   # 1 = january; the months it runs in
    runs_per_day_max: int = 1


@dataclass(frozen=True)
class _Words:
    """The input as lower-case words, kept to quote it and to build corrected examples."""
    raw: str
    items: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.items)

    def replaced(self, index: int, new: str) -> str:
        items = list(self.items)
        items[index] = new
        return " ".join(items)

    def error(self, detail: str, fix: str) -> ScheduleError:
        return ScheduleError(f"schedule {self.raw!r}: {detail}", fix)


def parse_schedule(text: str) -> Schedule:
    """Parse one schedule; raise `ScheduleError(what, fix)` when it is not acceptable."""
    words = _split(text)
    second = words.items[1] if len(words.items) > 1 else ""
    if words.items[0] == "every" and (_is_number(second) or second in _INTERVAL_WORDS):
        return _parse_interval(words)
    return _parse_fixed_time(words)


# --- words and times -----------------------------------------------------------------------

def _split(text: object) -> _Words:
    if not isinstance(text, str):  # YAML hands over numbers and nulls as they are
        raise ScheduleError(f"schedule must be text, got {text!r}",
                            f"write it in quotes, e.g. `every day {_EXAMPLE_TIME}`")
    lowered = re.sub(r"\s*,\s*", ",", text.strip().lower())  # `mon , fri` is one list
    lowered = re.sub(r"(\d)\s+(am|pm)\b", r"\1\2", lowered)   # `4 pm` is one (bad) time
    items = tuple(lowered.split())
    if not items:
        raise ScheduleError("schedule is empty", _FORMS)
    return _Words(" ".join(text.split()), items)


def _is_number(word: str) -> bool:
    return re.fullmatch(r"[0-9]+", word) is not None  # ASCII digits only, unlike str.isdigit


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def off_the_hour(minutes: int) -> int:
    """The same time, moved to minute 10 when it is exactly on the hour (see PITFALLS.md)."""
    return minutes + 10 if minutes % 60 == 0 else minutes


def _looks_like_time(word: str) -> bool:
    return ":" in word or re.fullmatch(r"[0-9]{1,2}(am|pm)", word) is not None


def _read_time(word: str, *, fixed: bool) -> tuple[int | None, str, str]:
    """`(minutes after midnight, "", "")` for a valid `HH:MM`; else `(None, what is wrong, the
    closest valid time)`. A fixed time's suggestion is moved off the hour."""
    match = _TIME.match(word)
    if not match or (match["minute"] is None and match["half"] is None):
        return None, "is not a time", _EXAMPLE_TIME
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["half"]:
        problem = "is not 24-hour HH:MM"
        if 1 <= hour <= 12:
            hour = hour % 12 + (12 if match["half"] == "pm" else 0)
    elif hour > 23 or minute > 59:
        problem = "does not exist (hours go 00-23, minutes 00-59)"
    elif len(match["hour"]) != 2 or len(match["minute"]) != 2:
        problem = "is not HH:MM with two digits each"
    else:
        return hour * 60 + minute, "", ""
    minutes = (hour % 24) * 60 + (minute if minute < 60 else 10)
    return None, problem, hhmm(off_the_hour(minutes) if fixed else minutes)


def _parse_time(words: _Words, index: int, *, fixed: bool) -> int:
    """Minutes after midnight of the `HH:MM` at `index`; a near miss gets a corrected example."""
    minutes, problem, suggestion = _read_time(words.items[index], fixed=fixed)
    if minutes is None:
        raise words.error(f"time {words.items[index]!r} {problem}", "times are 24-hour HH:MM in "
                          f"UTC, like `{words.replaced(index, suggestion)}`")
    return minutes


def _example_time(words: _Words) -> str:
    """The time to end corrected examples with: the user's own, moved off the hour or mended."""
    minutes, _, suggestion = _read_time(words.items[-1], fixed=True)
    return suggestion if minutes is None else hhmm(off_the_hour(minutes))


# --- interval schedules: `every N minutes|hours [from A to B | synchronized]` ----------------

def _parse_interval(words: _Words) -> Schedule:
    items = words.items
    if not _is_number(items[1]):
        unit = _UNIT_FIXES.get(items[1], (items[1], 1))[0]
        count = 1 if unit == "hours" else MIN_INTERVAL_MINUTES
        raise words.error("an interval needs a number",
                          f"the grammar has no `every {items[1]}`: write `every {count} {unit}`")
    count = int(items[1])
    interval = count * _unit_minutes(words)
    if count == 0:
        raise words.error("the interval is zero", "use a positive number, like `every 1 hours`")
    if interval < MIN_INTERVAL_MINUTES:
        raise words.error(f"runs every {interval} minutes; scheduled queries run at most every "
                          f"{MIN_INTERVAL_MINUTES} minutes",
                          f"the minimum interval is {MIN_INTERVAL_MINUTES} minutes: "
                          f"`every {MIN_INTERVAL_MINUTES} minutes`")
    window, synchronized = _interval_options(words, interval)
    return Schedule(text=words.text, kind="interval", interval_minutes=interval, window=window,
                    synchronized=synchronized, runs_per_day_max=_runs_per_day(interval, window))


def _unit_minutes(words: _Words) -> int:
    count, unit = words.items[1], words.items[2] if len(words.items) > 2 else ""
    if unit in _UNITS:
        return _UNITS[unit]
    if unit in _UNIT_FIXES:
        known, factor = _UNIT_FIXES[unit]
        fixed = f"every {int(count) * factor} {known}"
        raise words.error(f"{unit!r} is not a unit of the schedule grammar",
                          f"units are `minutes`, `mins` or `hours`: `{fixed}`")
    if unit.startswith("sec"):
        raise words.error("intervals are in minutes or hours, not seconds",
                          f"the minimum interval is {MIN_INTERVAL_MINUTES} minutes: "
                          f"`every {MIN_INTERVAL_MINUTES} minutes`")
    detail = f"unknown unit {unit!r}" if unit else "the interval has no unit"
    raise words.error(detail, f"units are `minutes`, `mins` or `hours`: `every {count} hours`")


def _interval_options(words: _Words, interval: int) -> tuple[tuple[int, int] | None, bool]:
    """The optional `from A to B` window or `synchronized` after `every N <unit>`."""
    rest, head = words.items[3:], " ".join(words.items[:3])
    if not rest:
        return None, False
    if rest == ("synchronized",):
        if DAY_MINUTES % interval:
            raise words.error(f"`synchronized` needs an interval that divides 24 hours evenly, "
                              f"not {interval} minutes",
                              f"drop `synchronized` (`{head}`) or use a divisor of 24 hours, like "
                              f"`every {_divisor_below(interval)} synchronized`")
        return None, True
    if len(rest) == 4 and rest[0] == "from" and rest[2] == "to":
        start, end = _parse_time(words, 4, fixed=False), _parse_time(words, 6, fixed=False)
        if start == end:
            raise words.error("the window starts and ends at the same minute",
                              f"give a window like `{head} from 08:10 to 18:10`, or run once a "
                              f"day with `every day {hhmm(off_the_hour(start))}`")
        return (start, end), False
    raise words.error(f"unexpected {' '.join(rest)!r} after {head!r}",
                      f"end it there (`{head}`), or add `from 08:10 to 18:10` or `synchronized`")


def _divisor_below(interval: int) -> str:
    """The longest interval up to `interval` that divides 24 hours, as the grammar writes it."""
    divisor = max(d for d in range(MIN_INTERVAL_MINUTES, min(interval, DAY_MINUTES) + 1)
                  if DAY_MINUTES % d == 0)
    return f"{divisor // 60} hours" if divisor % 60 == 0 else f"{divisor} minutes"


def _runs_per_day(interval: int, window: tuple[int, int] | None) -> int:
    if window is None:
        return -(-DAY_MINUTES // interval)
    span = (window[1] - window[0]) % DAY_MINUTES  # a window may cross midnight
    return span // interval + 1


# --- fixed-time schedules: `<days> [of <months>] HH:MM` -------------------------------------

@dataclass(frozen=True)
class _Days:
    kind: Kind
    weekdays: tuple[int, ...] = ()
    ordinals: tuple[int, ...] = ()
    monthdays: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Fixed:
    """A fixed-time schedule being parsed: its words split at `of`, and the time to use in
    examples (the user's own when valid, moved off the hour)."""
    words: _Words
    days: tuple[str, ...]
    period: tuple[str, ...] | None
    time: str

    def example(self, days: str, period: str | None = None) -> str:
        """The schedule with other days (and, given one, another period), ending with a time
        that is accepted."""
        period = period or (" ".join(self.period) if self.period else None)
        return " ".join(part for part in (days, f"of {period}" if period else "", self.time) if part)


def _parse_fixed_time(words: _Words) -> Schedule:
    items, time = words.items, _example_time(words)
    if items[0] in _SYNONYMS:
        raise words.error(f"{items[0]!r} is not a word of the schedule grammar",
                          f"write `{_SYNONYMS[items[0]].format(t=time)}`")
    if "at" in items:
        without = " ".join(w for w in items if w != "at")
        raise words.error("the grammar has no `at`", f"write the time last: `{without}`")
    if not _looks_like_time(items[-1]):
        example = f"{words.text} {time}" if len(items) > 1 else f"every day {time}"
        raise words.error("has no time of day",
                          f"end it with a 24-hour UTC time off the hour: `{example}`")
    body = items[:-1]
    if "of" in body:
        at = body.index("of")
        fixed = _Fixed(words, body[:at], body[at + 1:], time)
    else:
        fixed = _Fixed(words, body, None, time)
    # Days and months first, the time last: a time error's example is then a valid schedule.
    months = _parse_period(fixed)
    days = _parse_days(fixed)
    _check_monthdays_come(fixed, days.monthdays, months)
    time_of_day = _parse_time(words, -1, fixed=True)
    if time_of_day % 60 == 0:
        raise words.error(f"runs exactly on the hour ({items[-1]}), when scheduled queries may "
                          "fire twice", f"pick an off-the-hour minute: `{words.replaced(-1, time)}`")
    return Schedule(text=words.text, kind=days.kind, time_of_day=time_of_day,
                    weekdays=days.weekdays, ordinals=days.ordinals, monthdays=days.monthdays,
                    months=months)


def _parse_period(fixed: _Fixed) -> tuple[int, ...]:
    """The months after `of`: `month`, `quarter` or a month list; every month without `of`."""
    period, words = fixed.period, fixed.words
    if period is None or period == ("month",):
        return _ALL_MONTHS
    if period == ("quarter",):
        return _QUARTER_MONTHS
    days = " ".join(fixed.days)
    if len(period) == 4 and period[1:] == ("month", "of", "quarter"):
        offsets = [_ORDINALS.get(o, 1) - 1 for o in period[0].split(",")]
        listed = sorted({m + offset for m in _QUARTER_MONTHS for offset in offsets})
        names = ",".join(_month_name(m) for m in listed)
        raise words.error(f"`{' '.join(period)}` is not supported here",
                          f"list the months instead: `{fixed.example(days, names)}`")
    single = period[0] if len(period) == 1 else ""
    if "," not in single and single not in _MONTHS:
        shown = " ".join(period)
        detail = f"{shown!r} after `of` is not `month`, `quarter` or a month" if shown else \
            "nothing follows `of`"
        closest = "jan" if single == "year" else _closest(single, _MONTHS, "month")
        raise words.error(detail, "after `of` write `month`, `quarter` or months such as "
                                  f"`jan,jul`: `{fixed.example(days, closest)}`")
    return _parse_list(words, single, _MONTHS, "month",
                       example=lambda bad: fixed.example(days, _closest(bad, _MONTHS, "jan")))


def _month_name(number: int) -> str:
    return next(name for name, n in _MONTHS.items() if n == number and len(name) == 3)


def _parse_days(fixed: _Fixed) -> _Days:
    """The days before `of` (or before the time): `every day`, `every <weekdays>`,
    `<ordinals> <weekdays>` or `<days of the month>`."""
    days, words, time = fixed.days, fixed.words, fixed.time
    if not days:
        example = fixed.example("1") if fixed.period else fixed.example("every day")
        raise words.error("does not say on which days it runs", f"write e.g. `{example}`")
    first = days[0].split(",")
    if days[0] == "every":
        if len(days) != 2:
            raise words.error("`every` needs `day` or weekdays after it",
                              f"write e.g. `{fixed.example('every day')}`")
        if days[1] == "day":
            return _Days("daily", weekdays=tuple(range(1, 8)))
        return _Days("weekly", weekdays=_parse_weekdays(fixed, days[1]))
    if all(part in _ORDINALS or part == "last" or re.fullmatch(r"[0-9]+(st|nd|rd|th)", part)
           for part in first):
        return _ordinal_days(fixed)
    if all(_is_number(part) for part in first) and len(days) == 1:
        if fixed.period is None:
            raise words.error("days of the month need `of`",
                              f"write `{fixed.example(days[0], 'month')}`")
        return _Days("monthly", monthdays=_parse_monthdays(fixed, days[0]))
    if days[0] in _SYNONYMS:
        raise words.error(f"{days[0]!r} is not a word of the schedule grammar",
                          f"write `{_SYNONYMS[days[0]].format(t=time)}`")
    if len(days) == 1 and all(part in _WEEKDAYS for part in first):
        raise words.error("weekdays need `every` or an ordinal before them",
                          f"write `{fixed.example('every ' + days[0])}` or "
                          f"`{fixed.example('1st ' + days[0], 'month')}`")
    raise words.error(f"does not say on which days it runs ({' '.join(days)!r} is not understood)",
                      _FORMS)


def _ordinal_days(fixed: _Fixed) -> _Days:
    """`1st,3rd monday of ...`: ordinals 1st-5th, then one weekday list, then `of`."""
    days, words, time = fixed.days, fixed.words, fixed.time
    for part in days[0].split(","):
        if part == "last":
            raise words.error("the grammar has no `last`",
                              f"run on the first day of the next month (`1 of month {time}`) or "
                              f"name a day of the month (`28 of month {time}`)")
        if part not in _ORDINALS:
            raise words.error(f"ordinal {part!r} is not in the grammar",
                              f"ordinals are 1st-5th (or first-fifth), like "
                              f"`{fixed.example('1st monday', 'month')}`")
    ordinals = tuple(sorted({_ORDINALS[part] for part in days[0].split(",")}))
    if len(days) == 2 and days[1] == "day":
        numbers = ",".join(str(o) for o in ordinals)
        raise words.error(f"`{days[0]} day` is not supported here",
                          f"write the days of the month: `{fixed.example(numbers, 'month')}`")
    if len(days) != 2:
        raise words.error("an ordinal needs one weekday list after it",
                          f"write e.g. `{fixed.example(days[0] + ' monday', 'month')}`")
    weekdays = _parse_weekdays(fixed, days[1])
    if fixed.period is None:
        raise words.error(f"`{' '.join(days)}` needs `of` and a period",
                          f"write `{fixed.example(' '.join(days), 'month')}`")
    return _Days("monthly", weekdays=weekdays, ordinals=ordinals)


def _parse_weekdays(fixed: _Fixed, token: str) -> tuple[int, ...]:
    if token in _SYNONYMS:
        raise fixed.words.error(f"{token!r} is not a weekday of the schedule grammar",
                                f"write `{_SYNONYMS[token].format(t=fixed.time)}`")
    before = fixed.days[0]
    return _parse_list(fixed.words, token, _WEEKDAYS, "weekday",
                       example=lambda bad: fixed.example(f"{before} {_closest(bad, _WEEKDAYS, 'monday')}"))


def _parse_monthdays(fixed: _Fixed, token: str) -> tuple[int, ...]:
    days = {int(part) for part in token.split(",")}
    for day in sorted(days):
        if not 1 <= day <= 31:
            raise fixed.words.error(f"day of month {day} does not exist",
                                    f"days of the month are 1-31, like `{fixed.example('1,15')}`")
    return tuple(sorted(days))


def _check_monthdays_come(fixed: _Fixed, monthdays: tuple[int, ...], months: tuple[int, ...]) -> None:
    """Stricter than groc (which is content when one listed day comes): every listed day must
    come in at least one listed month, or it is a typo that silently never runs."""
    longest = max(_DAYS_IN_MONTH[m - 1] for m in months)
    never = [day for day in monthdays if day > longest]
    if never:
        kept = ",".join(str(day) for day in monthdays if day <= longest) or str(longest)
        raise fixed.words.error(f"day {never[0]} never comes in those months (at most {longest} days)",
                                f"pick days that exist, like `{fixed.example(kept)}`")


def _parse_list(words: _Words, token: str, names: dict[str, int], what: str,
                example: Callable[[str], str]) -> tuple[int, ...]:
    """A comma-separated list of names (`mon,fri`, `jan,july`) as sorted numbers."""
    numbers = set()
    for part in token.split(","):
        if part not in names:
            hint = _closest(part, names, "")
            did_you_mean = f" (did you mean {hint!r}?)" if hint else ""
            shown = f"unknown {what} {part!r}{did_you_mean}" if part else f"empty {what} in {token!r}"
            raise words.error(shown, f"{what}s are English names or their first three letters, "
                                     f"like `{example(part)}`")
        numbers.add(names[part])
    return tuple(sorted(numbers))


def _closest(word: str, names: dict[str, int], default: str) -> str:
    close = difflib.get_close_matches(word, list(names), n=1, cutoff=0.6)
    return close[0] if close else default
