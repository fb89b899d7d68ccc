"""What the Pulumi engine does with a resource's `ignoreChanges` before it diffs, for `plan --diff`.

Before an update, the engine (`processIgnoreChanges` in `pkg/resource/deploy/step_generator.go`)
parses each entry of the resource's `ignoreChanges` as a property path (`ParsePropertyPath` in
`sdk/go/common/resource/properties_path.go`: `schema`, `labels.team`, `labels["managed-by"]`,
`accesses[0].role`, `accesses[*].role`) and resets the new inputs at that path to the old
inputs' value (`PropertyPath.Reset`); only then does it ask the provider for a diff. A change
under such a path is therefore never applied: the state keeps the old value. A path naming
something the old inputs lack deletes it from the new ones; array elements are never added or
removed (the engine then only logs "cannot ignore changes in added or removed elements"); a path
the engine cannot parse is skipped. A resource being created gets its inputs whole. The Python
SDK sends the names translated to the provider's (`ignore_changes=["schema"]` stays `schema`,
`time_partitioning` becomes `timePartitioning`), which is what the plan records.

`effective_inputs(old, new, ignore_changes)` is that reset, ported path by path from the engine,
so `plan --diff` can tell what Pulumi applies from what it ignores.

Deliberately not here: the provider's own use of `ignoreChanges` in its diff (it only drops
more), and secrets (the offline plan has none).
"""

from __future__ import annotations

import copy
import re
from typing import Any

_INDEX = re.compile(r"^[+-]?[0-9]+$")  # Go's strconv.ParseInt(segment, 10, 0)


def parse_path(path: str) -> tuple | None:
    """A property path as the engine's (non-strict) parser reads it: names and quoted keys as
    strings, indices as ints, `*` as the wildcard; None where the engine fails to parse it."""
    elements: list = []
    if path.startswith("."):
        return None
    i = 0
    while i < len(path):
        if path[i] == ".":
            i += 1
            if i == len(path):
                return None
        elif path[i] == "[":
            if i + 1 < len(path) and path[i + 1] == '"':
                key, j = [], i + 2
                while True:
                    if j >= len(path):
                        return None
                    if path[j] == '"':
                        j += 1
                        break
                    if path[j] == "\\" and j + 1 < len(path) and path[j + 1] == '"':
                        key.append('"')
                        j += 2
                    else:
                        key.append(path[j])
                        j += 1
                if j >= len(path) or path[j] != "]":
                    return None
                elements.append("".join(key))
                i = j + 1
            else:
                close = path.find("]", i)
                if close == -1:
                    return None
                segment = path[i + 1:close]
                if segment == "*":
                    elements.append("*")
                elif _INDEX.match(segment):
                    elements.append(int(segment))
                else:
                    return None
                i = close + 1
        else:
            j = i
            while j < len(path) and path[j] not in ".[":
                j += 1
            elements.append(path[i:j])
            i = j
    return tuple(elements)


def effective_inputs(old: dict, new: dict, ignore_changes: list[str] | tuple[str, ...]) -> dict:
    """The inputs the engine diffs for an update: `new` with every `ignoreChanges` path reset to
    its value in `old` (a copy; neither argument is changed)."""
    result = copy.deepcopy(new)
    for text in ignore_changes if isinstance(ignore_changes, (list, tuple)) else ():
        path = parse_path(text) if isinstance(text, str) else None
        if path is not None:
            reset(path, old, result)  # a path error leaves what was reset so far, as in the engine
    return result


def reset(path: tuple, old: Any, new: Any) -> bool:
    """`PropertyPath.reset`: set `new` at `path` to `old`'s value there; False on a path error."""
    if not path:
        return False
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        return _reset_index(key, rest, old, new)
    if key == "*":
        return _reset_all(rest, old, new)
    if not rest:
        if isinstance(old, dict) and key in old:
            if not isinstance(new, dict):
                return False
            new[key] = copy.deepcopy(old[key])
        elif isinstance(new, dict):
            new.pop(key, None)
        return True
    if not isinstance(old, dict) or not isinstance(new, dict):
        return not isinstance(old, dict) and not isinstance(new, dict)
    if key in old and key not in new:
        return False
    if key not in old and key not in new:
        return True
    return reset(rest, old.get(key), new[key])


def _reset_index(key: int, rest: tuple, old: Any, new: Any) -> bool:
    if key < 0:
        return False
    both = isinstance(old, list) and isinstance(new, list)
    if not both:
        return not isinstance(old, list) and not isinstance(new, list)
    if not rest and key >= len(old) and key >= len(new):
        return True
    if key >= len(old) or key >= len(new):
        return False
    if not rest:
        new[key] = copy.deepcopy(old[key])
        return True
    return reset(rest, old[key], new[key])


def _reset_all(rest: tuple, old: Any, new: Any) -> bool:
    """The wildcard `*`: every key of an object, every element of an array."""
    if not rest:
        if isinstance(new, dict):
            if isinstance(old, dict):
                for k in old:
                    new[k] = copy.deepcopy(old[k])
                for k in [k for k in new if k not in old]:
                    del new[k]
            return True
        if isinstance(new, list):
            if isinstance(old, list):
                for i in range(min(len(old), len(new))):
                    new[i] = copy.deepcopy(old[i])
                return len(old) == len(new)
            return True
        return False
    if isinstance(old, dict) and isinstance(new, dict):
        return all(k in new and reset(rest, old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        same = all(reset(rest, a, b) for a, b in zip(old, new, strict=False))
        return same and len(old) == len(new)
    return False
