"""Reading `pulumi preview --refresh --json`: the document, its property paths, its steps by resource.

The input is the document `pulumi preview --json` prints (Pulumi's `display.PreviewDigest`):
`steps` (each with `op`, `urn`, `oldState`/`newState` holding `inputs` and `outputs`,
`diffReasons`, `replaceReasons`, `detailedDiff` mapping property paths such as `accesses[3]`,
`params.query` or `labels["managed-by"]` to `{kind: add|delete|update|*-replace, inputDiff}`),
`diagnostics` (`severity` debug/info/info#err/warning/error), `changeSummary` and `duration`.
With `--refresh` a resource shows up to twice: first its refresh step (op `refresh`, or `update`
/`delete` when the refresh found BigQuery different from the state), then the preview's step,
whose old state is what BigQuery has now and whose new state is what the files declare (the CLI
rewrites a refresh step that found a difference into `update` or `delete`: pulumi/pulumi#16146,
#16851; a `refresh` step means the refresh found BigQuery as the state says).

Deliberately not here: what a difference means (`findings.py`) and the report (`report.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Preview ops that change nothing in the cloud.
QUIET_OPS = frozenset({"same", "read", "refresh", "diff", "discard", "read-replacement", "discard-replaced"})
REPLACE_OPS = frozenset({"replace", "create-replacement", "delete-replaced", "import-replacement"})
MISSING = object()  # a property path that leads nowhere in a state


class PreviewError(ValueError):
    """The text is not a preview document."""


def parse_preview(text: str) -> dict:
    """The preview document in `text` (the CLI's stdout). Anything printed before the JSON object
    (a CLI warning on stdout) is skipped; no JSON object at all raises `PreviewError`."""
    start = text.find("{")
    if start < 0:
        raise PreviewError("the output holds no JSON document" + (f": {_first_line(text)}" if text.strip() else
                                                                   " (it is empty)"))
    try:
        document, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError as exc:
        raise PreviewError(f"the output is not a preview JSON document ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("steps", []), list):
        raise PreviewError("the JSON is not a preview document (no `steps` list)")
    return document


_SEGMENT = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.\[\]"]+)')


def parse_path(path: str) -> tuple:
    """`accesses[3].role` -> ("accesses", 3, "role"); `labels["managed-by"]` -> ("labels", "managed-by")."""
    out: list = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None or m.end() == pos:
            return (path,)
        index, quoted, key = m.groups()
        if index is not None:
            out.append(int(index))
        elif quoted is not None:
            out.append(json.loads(f'"{quoted}"'))
        else:
            out.append(key)
        pos = m.end()
    return tuple(out)


def lookup(value: Any, segments: tuple) -> Any:
    for segment in segments:
        in_list = isinstance(segment, int) and isinstance(value, list) and 0 <= segment < len(value)
        in_mapping = isinstance(segment, str) and isinstance(value, dict) and segment in value
        if not (in_list or in_mapping):
            return MISSING
        value = value[segment]
    return value


def state_value(state: dict | None, segments: tuple, prefer: str) -> Any:
    """A value of a resource state, from `outputs` or `inputs` (`prefer` first)."""
    if not state:
        return MISSING
    for key in (prefer, "inputs" if prefer == "outputs" else "outputs"):
        found = lookup(state.get(key) or {}, segments)
        if found is not MISSING:
            return found
    return MISSING


def urn_parts(urn: str) -> tuple[str, str]:
    """(resource type, logical name) of a URN."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[2].split("$")[-1], parts[-1]


@dataclass
class StepsOf:
    """The steps of one resource (one URN): its refresh step and the preview's steps."""

    urn: str
    refresh: dict | None = None  # the refresh step (what the refresh found)
    preview: list[dict] = field(default_factory=list)  # the preview's steps (what `up` would do)


def group_steps(steps: list[dict], refreshed: bool) -> dict[str, StepsOf]:
    """Steps by URN, split into the refresh's step and the preview's.

    A resource's first step is its refresh step when the document was refreshed and that step is
    `refresh`, or is followed by more steps for the same URN, or is an `update`/`delete` alone
    (the refresh found a difference and the preview's `same` step is not shown)."""
    grouped: dict[str, list[dict]] = {}
    for step in steps:
        if isinstance(step, dict) and step.get("urn"):
            grouped.setdefault(step["urn"], []).append(step)
    out = {}
    for urn, items in grouped.items():
        resource = StepsOf(urn)
        first = items[0]
        if refreshed and (first.get("op") == "refresh" or len(items) > 1 or first.get("op") in ("update", "delete")):
            resource.refresh, items = first, items[1:]
        resource.preview = items
        out[urn] = resource
    return out


def is_refreshed(steps: list[dict]) -> bool:
    urns = [s.get("urn") for s in steps if isinstance(s, dict)]
    return any(isinstance(s, dict) and s.get("op") == "refresh" for s in steps) or len(urns) != len(set(urns))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]
