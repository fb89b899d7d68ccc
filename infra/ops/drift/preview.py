"""Reading `pulumi preview --refresh --show-sames --json`: the document, its property paths, its steps by resource.

The input is the one JSON object `pulumi preview --json` prints (the engine's `PreviewDigest`):
`steps` (each with `op`, `urn`, `oldState`/`newState` holding `inputs` and `outputs`,
`diffReasons`, `replaceReasons`, `detailedDiff` mapping property paths such as `accesses[3]`,
`params.query` or `labels["managed-by"]` to `{kind: add|delete|update|*-replace, inputDiff}`),
`diagnostics` (`severity` info/info#err/warning/error), `changeSummary` and `duration`.

How a refreshed preview shows drift (docs/real-world.md, "preview-*", from the engine's source):
every resource of the state first gets a step with op `refresh` whose `oldState` and `newState`
are both the state BEFORE the refresh (what the last `up` left); the refresh's result becomes the
base of the preview, so the program's step for the same URN has as `oldState` what the cloud
holds now, and as `newState` what the files declare. Drift made outside the code is the
difference between the refresh step's state and that `oldState`; the program step's own diff is
what the next `up` would do. A resource deleted outside shows as its refresh step followed by a
`create` (no `delete` step); with `--show-sames`, a refresh step with nothing after it is a
resource deleted outside that the files no longer declare either.

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
STACK = "pulumi:pulumi:Stack"
SECRET = "[secret]"  # how the document shows every secret value


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
    for i, step in enumerate(document.get("steps") or []):
        if not (isinstance(step, dict) and isinstance(step.get("urn"), str) and isinstance(step.get("op"), str)):
            raise PreviewError(f"step {i} is not a preview step (each has a text `op` and `urn`)")
        for key in ("oldState", "newState", "detailedDiff"):
            if step.get(key) is not None and not isinstance(step[key], dict):
                raise PreviewError(f"step {i}'s `{key}` is not an object")
    if not isinstance(document.get("diagnostics") or [], list):
        raise PreviewError("the JSON's `diagnostics` is not a list")
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
    """The steps of one resource (one URN): its refresh step and the program's steps."""

    urn: str
    refresh: dict | None = None  # the refresh step: the state before the refresh
    preview: list[dict] = field(default_factory=list)  # the program's steps (what `up` would do)

    @property
    def checkpoint(self) -> dict | None:
        """The state the last `up` left (the refresh step's), None without a refresh step."""
        state = (self.refresh or {}).get("oldState")
        return state if isinstance(state, dict) else None

    @property
    def deleted_outside(self) -> bool:
        """The refresh found it gone: it was in the state, and the program's step creates it."""
        return (self.refresh is not None and bool(self.preview)
                and self.preview[0].get("op") in ("create", "create-replacement")
                and not self.preview[0].get("oldState"))

    @property
    def cloud(self) -> dict | None:
        """What the cloud holds now: the `oldState` of the first program step that has one (None
        when the resource is gone or not known)."""
        return next((s["oldState"] for s in self.preview if isinstance(s.get("oldState"), dict)), None)


def group_steps(steps: list[dict]) -> dict[str, StepsOf]:
    """Steps by URN, in the document's order: the refresh step (op `refresh`) apart from the program's."""
    out: dict[str, StepsOf] = {}
    for step in steps:
        if not (isinstance(step, dict) and step.get("urn")):
            continue
        resource = out.setdefault(step["urn"], StepsOf(step["urn"]))
        if step.get("op") == "refresh" and resource.refresh is None and not resource.preview:
            resource.refresh = step
        else:
            resource.preview.append(step)
    return out


def is_refreshed(steps: list[dict]) -> bool:
    return any(isinstance(s, dict) and s.get("op") == "refresh" for s in steps)


def shows_sames(steps: list[dict]) -> bool:
    """Whether the preview ran with `--show-sames`: a `same` step of anything but the stack, which
    is always shown."""
    return any(isinstance(s, dict) and s.get("op") == "same" and urn_parts(str(s.get("urn")))[0] != STACK
               for s in steps)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]
