"""Run order: a scheduled query must start after the scheduled queries it reads from (DESIGN.md,
decision 4), with a margin for the upstream query's own run time.

`must_run_after` compares times of day on the same UTC day, and only when both schedules have one
(daily, weekly, monthly). It deliberately ignores: interval schedules on either side (no fixed
time to compare, so always fine); on which days each runs (a daily query after a weekly one is
judged by the time of day alone); how long the upstream query really takes (the margin stands for
that); and runs across midnight (no wrap-around: 00:30 counts as before 23:30).
"""

from __future__ import annotations

from infra.declarations.schedule import DAY_MINUTES, Schedule, hhmm, off_the_hour


def must_run_after(downstream: Schedule, upstream: Schedule, margin_minutes: int) -> str | None:
    """None when `downstream` starts at least `margin_minutes` after `upstream` the same UTC day
    (or either has no fixed time), else why not, in one sentence."""
    if margin_minutes < 0:
        raise ValueError(f"margin_minutes must not be negative, got {margin_minutes}")
    if downstream.time_of_day is None or upstream.time_of_day is None:
        return None  # an interval schedule has no fixed time to order against
    earliest = upstream.time_of_day + margin_minutes
    if downstream.time_of_day >= earliest:
        return None
    gap = downstream.time_of_day - upstream.time_of_day
    when = "before" if gap < 0 else "at the same time as" if gap == 0 else f"only {gap} minutes after"
    advice = (f"start it at {hhmm(off_the_hour(earliest))} or later" if earliest < DAY_MINUTES
              else "move the upstream earlier, no later time is left that day")
    return (f"{downstream.text!r} starts at {hhmm(downstream.time_of_day)} UTC, {when} its upstream "
            f"{upstream.text!r} ({hhmm(upstream.time_of_day)} UTC), and must start "
            f"at least {margin_minutes} minutes after it on the same UTC day: {advice}")
