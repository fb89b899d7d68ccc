"""A small, explicit schema for the YAML files: which keys exist, their types and allowed values.

Each loader describes its file as a tuple of `Field`s and calls `read_mapping`, which reports
unknown keys (with a "did you mean"), missing required keys, wrong types and values outside
their choices, one problem each, with the file, line and key. Its contract: the mapping it returns
holds EVERY field's key; a value it rejected (or a key that is missing) holds the field's default
instead, and its name is in `.rejected`. So a loader can index any field and go on to find more
problems in the same run, without ever meeting a rejected value; the problems already make the
load fail.

Deliberately not here: cross-file rules (a role naming a dataset that does not exist); those
belong to the loader that sees both files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infra.declarations.files import Doc, key_text
from infra.problems import Problems
from infra.vocabulary import LABEL_KEY, LABEL_VALUE, RESERVED_LABELS

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
    minimum: int | None = None  # whole numbers: the smallest allowed
    maximum: int | None = None  # whole numbers: the largest allowed
    max_length: int = 16_384  # text: the longest allowed (BigQuery's limit for a description)
    unique: bool = False  # lists: no item twice (each item becomes a resource or a grant of its own)


def type_ok(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def describe(kind: type) -> str:
    return _TYPE_NAMES.get(kind, kind.__name__)


def closest(word: str, options: Sequence[str]) -> str | None:
    same = [o for o in options if str(o).lower() == str(word).lower().strip()]
    if same:  # only the case (or spaces around it) differ: `required` for `REQUIRED`
        return same[0]
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: str, options: Sequence[str]) -> str:
    close = closest(word, options)
    return f" (did you mean {close!r}?)" if close else ""


class Values(dict):
    """What `read_mapping` read: every field's key; `rejected` names those that hold their default
    because the file's value was refused (or a required key was missing)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rejected: set[str] = set()


def read_mapping(doc: Doc, path: tuple, value: Any, fields: Sequence[Field],
                 problems: Problems, what: str) -> Values | None:
    """Validate `value` (found at `path` in `doc`) against `fields`. None when `value` is not a
    mapping at all."""
    file = doc.file
    if not isinstance(value, dict):
        problems.add(file, doc.line(path), key_text(path) or "(top level)",
                     f"{what} must be a mapping of keys to values, got {_kind_of(value)}",
                     "write `key: value` lines")
        return None
    known = {f.name: f for f in fields}
    out = Values()
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
                out.rejected.add(f.name)
            out[f.name] = f.default
            continue
        v = value[f.name]
        if not type_ok(v, f.kind):
            problems.add(file, doc.line(p), key_text(p),
                         f"must be {describe(f.kind)}, got {_kind_of(v)}",
                         f"write {describe(f.kind)}" + (f" such as {f.example}" if f.example else ""))
            _reject(out, f)
            continue
        if f.kind is list and f.item is not None:
            bad = [i for i, x in enumerate(v) if not type_ok(x, f.item)]
            if bad:
                for i in bad:
                    problems.add(file, doc.line(p + (i,)), key_text(p + (i,)),
                                 f"must be {describe(f.item)}, got {_kind_of(v[i])}",
                                 f"write each item as {describe(f.item)}")
                _reject(out, f)
                continue
        text_problem = _text_problem(v, f) if f.kind is str else None
        if text_problem:
            problems.add(file, doc.line(p), key_text(p), text_problem[0], text_problem[1])
            _reject(out, f)
            continue
        if f.kind is int and ((f.minimum is not None and v < f.minimum) or (f.maximum is not None and v > f.maximum)):
            low = "" if f.minimum is None else f"{f.minimum}"
            high = "" if f.maximum is None else f"{f.maximum}"
            bounds = f"from {low} to {high}" if low and high else (f"at least {low}" if low else f"at most {high}")
            problems.add(file, doc.line(p), key_text(p), f"{v} is out of range ({bounds})",
                         f"write a whole number {bounds}" + (f" such as {f.example}" if f.example else ""))
            _reject(out, f)
            continue
        if f.kind is list and f.unique:
            repeated = [i for i, x in enumerate(v) if x in v[:i]]
            if repeated:
                for i in repeated:
                    problems.add(file, doc.line(p + (i,)), key_text(p + (i,)), f"{v[i]!r} is listed twice",
                                 "remove the second one")
                _reject(out, f)
                continue
        if f.choices:
            values = v if f.kind is list else [v]
            wrong = [x for x in values if x not in f.choices]
            if wrong:
                problems.add(file, doc.line(p), key_text(p),
                             f"{wrong[0]!r} is not allowed{suggest(str(wrong[0]), [str(c) for c in f.choices])}",
                             f"use one of: {', '.join(str(c) for c in f.choices)}")
                _reject(out, f)
                continue
        out[f.name] = v
    return out


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text_problem(v: str, f: Field) -> tuple[str, str] | None:
    """(what, fix) when a text value is empty, holds a control character or is too long."""
    if not v.strip():
        return "must not be empty", "write a value" + (f" such as {f.example}" if f.example else "")
    control = _CONTROL.search(v)
    if control:
        return (f"contains the control character U+{ord(control.group()):04X}",
                "remove it (only line breaks and tabs are allowed in text)")
    if len(v) > f.max_length:
        return (f"is {len(v):,} characters long, more than the {f.max_length:,} BigQuery keeps",
                "shorten it")
    return None


def _reject(out: Values, f: Field) -> None:
    out[f.name] = f.default
    out.rejected.add(f.name)


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


def check_labels(doc: Doc, labels: object, problems: Problems) -> None:
    """A `labels:` mapping of a dataset or a query: no label the program sets itself (it would
    override or be overridden: the program's always win), keys and values as BigQuery takes them."""
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        line = doc.line(("labels", key))
        if key in RESERVED_LABELS:
            problems.add(doc.file, line, f"labels.{key}", "this label is set by the program",
                         f"remove it; {', '.join(RESERVED_LABELS)} are always set")
        elif not LABEL_KEY.match(str(key)):
            problems.add(doc.file, line, f"labels.{key}", "label keys are lower-case letters, digits, _ and -",
                         "rename the label")
        elif not isinstance(value, str) or not LABEL_VALUE.match(value):
            problems.add(doc.file, line, f"labels.{key}", f"label value {value!r} is not valid",
                         "use up to 63 lower-case letters, digits, _ and - (quote it)")
