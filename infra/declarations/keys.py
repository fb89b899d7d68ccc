"""A small, explicit schema for the YAML files: which keys exist, their types and allowed values.

Each loader describes its file as a tuple of `Field`s and calls `read_mapping`, which reports
unknown keys (with a "did you mean"), missing required keys, wrong types and values outside
their choices, one problem each, with the file, line and key. It returns the values it could
read (defaults filled in) so the loader can go on and find more problems in the same run.

Deliberately not here: cross-file rules (a role naming a dataset that does not exist); those
belong to the loader that sees both files.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infra.declarations.files import Doc, key_text
from infra.problems import Problems

_TYPE_NAMES = {str: "a string", int: "a whole number", bool: "true or false",
               list: "a list", dict: "a mapping (key: value lines)"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: type
    required: bool = False
    default: Any = None
    choices: Sequence[Any] = ()
    item: type | None = None  # element type when kind is list
    example: str = ""  # how a correct value looks, used in the fix text


def type_ok(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def describe(kind: type) -> str:
    return _TYPE_NAMES.get(kind, kind.__name__)


def closest(word: str, options: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: str, options: Sequence[str]) -> str:
    close = closest(word, options)
    return f" (did you mean {close!r}?)" if close else ""


def read_mapping(doc: Doc, path: tuple, value: Any, fields: Sequence[Field],
                 problems: Problems, what: str) -> dict[str, Any] | None:
    """Validate `value` (found at `path` in `doc`) against `fields`."""
    file = doc.file
    if not isinstance(value, dict):
        problems.add(file, doc.line(path), key_text(path) or "(top level)",
                     f"{what} must be a mapping of keys to values, got {_kind_of(value)}",
                     "write `key: value` lines")
        return None
    known = {f.name: f for f in fields}
    out: dict[str, Any] = {}
    for key in value:
        if key not in known:
            problems.add(file, doc.line(path + (key,)), key_text(path + (key,)),
                         f"unknown key in {what}{suggest(key, list(known))}",
                         f"remove it or use one of: {', '.join(known)}")
    for f in fields:
        p = path + (f.name,)
        if f.name not in value or value[f.name] is None:
            if f.required:
                example = f" such as `{f.name}: {f.example}`" if f.example else ""
                problems.add(file, doc.line(path), key_text(p),
                             f"missing required key in {what}",
                             f"add `{f.name}:` ({describe(f.kind)}){example}")
            else:
                out[f.name] = f.default
            continue
        v = value[f.name]
        if not type_ok(v, f.kind):
            problems.add(file, doc.line(p), key_text(p),
                         f"must be {describe(f.kind)}, got {_kind_of(v)}",
                         f"write {describe(f.kind)}" + (f" such as {f.example}" if f.example else ""))
            continue
        if f.kind is list and f.item is not None:
            bad = [i for i, x in enumerate(v) if not type_ok(x, f.item)]
            if bad:
                for i in bad:
                    problems.add(file, doc.line(p + (i,)), key_text(p + (i,)),
                                 f"must be {describe(f.item)}, got {_kind_of(v[i])}",
                                 f"write each item as {describe(f.item)}")
                continue
        if f.choices:
            values = v if f.kind is list else [v]
            wrong = [x for x in values if x not in f.choices]
            if wrong:
                problems.add(file, doc.line(p), key_text(p),
                             f"{wrong[0]!r} is not allowed{suggest(str(wrong[0]), [str(c) for c in f.choices])}",
                             f"use one of: {', '.join(str(c) for c in f.choices)}")
                continue
        out[f.name] = v
    return out


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
