"""The inputs of a resource as a reviewer reads them, whole, for `plan --diff`.

A plan diff is made of sections, one per input that differs (or, for an added resource, one per
input it has), each a list of lines marked `+` (added), `-` (removed), `~` (changed) or ` `
(context):

- a dataset's ACL (`accesses`): one entry a line, as people write it (`+ WRITER group:...`,
  `infra.vocabulary.acl_entry_text`), entries compared canonically (key order, e-mail case and
  the provider's one-item lists do not count), view, dataset and routine entries included;
- a table's `schema` (a JSON string of BigQuery columns, nested `fields` as `parent.child`): one
  column a line, `+ column x INT64 NULLABLE "desc"`, `- column y ...`,
  `~ column z: type STRING -> INT64`, and a changed column order;
- any multi-line string (a view's `view.query`, a transfer's `params.query`): a unified diff
  (difflib), or the whole text for an added resource;
- lists of plain values (clustering, dependencies): the items added and removed, or the order;
- any other value: whole, as JSON, never cut.

Deliberately not here: which resources differ and what the engine ignores (`diff.py`,
`ignore_changes.py`), and laying the sections out as text or Markdown (`diff_render.py`).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from infra.vocabulary import DATASET_TYPE, TABLE_TYPE, acl_entry_text

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()  # an absent input, not null
_ONE_LINE = 100  # a changed value longer than this is shown as a `-` and a `+` line, not `old -> new`
_EMAIL_KEYS = ("groupByEmail", "userByEmail", "domain")
_COLUMN_HEAD = ("type", "mode", "description")  # a column's line shows these; other keys follow


@dataclass(frozen=True)
class Line:
    mark: str  # "+", "-", "~", " " (context) or "" (a diff's @@ line)
    text: str


@dataclass(frozen=True)
class Section:
    title: str | None  # the input's path when its lines follow under it; None for a one-line value
    lines: tuple[Line, ...]
    ignored: bool = False  # under the resource's ignoreChanges: Pulumi does not apply it


def value_text(value: Any) -> str:
    return "(absent)" if value is MISSING else json.dumps(value, ensure_ascii=False, sort_keys=True)


# --- comparing ------------------------------------------------------------------------------------


def changed_sections(rtype: str | None, old: Any, new: Any, path: str = "") -> list[Section]:
    """Every difference between two values of a resource's inputs (or options), one section per
    input; `rtype` picks the readable form of an ACL or a schema."""
    out: list[Section] = []
    _changes(rtype, old, new, path, out)
    return out


def _changes(rtype: str | None, old: Any, new: Any, path: str, out: list[Section]) -> None:
    if old == new:
        return
    if path == "accesses" and rtype == DATASET_TYPE and _list_or_missing(old) and _list_or_missing(new):
        lines = acl_lines(_as_list(old), _as_list(new))
        if lines:
            out.append(Section(path, tuple(lines)))
        return
    if path == "schema" and rtype == TABLE_TYPE:
        before, after = columns(old), columns(new)
        if before is not None and after is not None:
            out.append(Section(path, tuple(schema_lines(before, after))))
            return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            _changes(rtype, old.get(key, MISSING), new.get(key, MISSING), _join(path, key), out)
    elif (_multi_line(old) or _multi_line(new)) and _text_or_missing(old) and _text_or_missing(new):
        out.append(Section(path, tuple(text_diff_lines(old if isinstance(old, str) else "",
                                                       new if isinstance(new, str) else ""))))
    elif _scalar_list(old) and _scalar_list(new):
        out.append(Section(path, tuple(list_lines(old, new))))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _changes(rtype, a, b, f"{path}[{i}]", out)
    else:
        out.append(Section(None, tuple(value_lines(path, old, new))))


def value_lines(path: str, old: Any, new: Any) -> list[Line]:
    if old is MISSING:
        return [Line("+", f"{path}: {value_text(new)}")]
    if new is MISSING:
        return [Line("-", f"{path}: {value_text(old)}")]
    before, after = value_text(old), value_text(new)
    if len(before) + len(after) <= _ONE_LINE:
        return [Line("~", f"{path}: {before} -> {after}")]
    return [Line("-", f"{path}: {before}"), Line("+", f"{path}: {after}")]


def text_diff_lines(old: str, new: str) -> list[Line]:
    """A unified diff of two texts (difflib, 3 lines of context), without the file header."""
    out = []
    for line in list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3))[2:]:
        out.append(Line("", line) if line.startswith("@@") else Line(line[:1], line[1:]))
    return out


def list_lines(old: Any, new: Any) -> list[Line]:
    """Two lists of plain values: each item removed and added, or the new order."""
    before, after = _as_list(old), _as_list(new)
    removed = [x for x in before if x not in after]
    added = [x for x in after if x not in before]
    lines = [Line("-", value_text(x)) for x in removed] + [Line("+", value_text(x)) for x in added]
    if not lines:
        lines = [Line("~", f"order: {value_text(before)} -> {value_text(after)}")]
    return lines


# --- ACL entries ----------------------------------------------------------------------------------


def canonical_entry(entry: Any) -> str:
    """One ACL entry as a key that ignores what BigQuery ignores: key order, e-mail case, empty
    fields, and the provider's one-item lists around nested objects."""
    def norm(value: Any, key: str = "") -> Any:
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]
        if isinstance(value, dict):
            return {k: norm(v, k) for k, v in value.items() if v not in (None, "", [], {})}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return sorted(items, key=value_text) if all(not isinstance(v, (dict, list)) for v in items) else items
        if key in _EMAIL_KEYS and isinstance(value, str):
            return value.lower()
        return value
    return json.dumps(norm(entry), sort_keys=True)


def _entry_text(entry: Any) -> str:
    return acl_entry_text(entry) if isinstance(entry, dict) else value_text(entry)


def acl_lines(old: list, new: list, mark_all: str | None = None) -> list[Line]:
    """The entries only in `old` (`-`) and only in `new` (`+`), one a line; with `mark_all`, every
    entry of `new` with that mark (an added dataset). Sorted by principal, so a changed role
    reads as `- READER group:x` next to `+ WRITER group:x`."""
    before = {canonical_entry(e): e for e in old}
    after = {canonical_entry(e): e for e in new}
    if mark_all:
        changed = [(mark_all, k, e) for k, e in after.items()]
    else:
        changed = ([("-", k, e) for k, e in before.items() if k not in after]
                   + [("+", k, e) for k, e in after.items() if k not in before])
    texts = [_entry_text(e) for _, _, e in changed]
    lines = []
    for (mark, key, _), text in zip(changed, texts, strict=True):
        shown = f"{text} {key}" if texts.count(text) > 1 else text  # two entries that read alike
        lines.append((_principal_first(text), mark != "-", Line(mark, shown)))
    return [line for *_, line in sorted(lines, key=lambda t: (t[0], t[1]))]


def _principal_first(text: str) -> str:
    role, _, who = text.partition(" ")
    return f"{who} {role}" if role.isupper() and who else text


# --- schemas --------------------------------------------------------------------------------------


def columns(value: Any) -> list[dict] | None:
    """A `schema` input's columns (a JSON string of BigQuery fields), or None when it is not one."""
    if value is MISSING or value is None:
        return []
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    ok = isinstance(parsed, list) and all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in parsed)
    return parsed if ok else None


def _flat(cols: list[dict], prefix: str = "") -> list[tuple[str, str, dict]]:
    """(parent, dotted name, the column without its `fields`), nested fields after their record."""
    out = []
    for c in cols:
        name = prefix + c["name"]
        out.append((prefix[:-1], name, {k: v for k, v in c.items() if k not in ("name", "fields")}))
        nested = c.get("fields")
        if isinstance(nested, list) and all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in nested):
            out += _flat(nested, name + ".")
    return out


def column_text(name: str, column: dict) -> str:
    parts = [name, str(column.get("type", "?")), str(column.get("mode") or "NULLABLE")]
    if column.get("description"):
        parts.append(json.dumps(column["description"], ensure_ascii=False))
    parts += [f"{k}={value_text(v)}" for k, v in sorted(column.items()) if k not in _COLUMN_HEAD]
    return " ".join(parts)


def schema_lines(old: list[dict], new: list[dict], mark_all: str | None = None) -> list[Line]:
    """Column by column: added (`+`), removed (`-`), changed (`~ column z: type A -> B`), and the
    order of the columns they share, per record; with `mark_all`, every column of `new`."""
    before, after = _flat(old), _flat(new)
    if mark_all:
        return [Line(mark_all, f"column {column_text(n, c)}") for _, n, c in after]
    old_by, new_by = {n: c for _, n, c in before}, {n: c for _, n, c in after}
    lines = [Line("+", f"column {column_text(n, c)}") for _, n, c in after if n not in old_by]
    lines += [Line("-", f"column {column_text(n, c)}") for _, n, c in before if n not in new_by]
    for _, name, c in after:
        if name in old_by and old_by[name] != c:
            was = old_by[name]
            for key in [*_COLUMN_HEAD, *sorted((was.keys() | c.keys()) - set(_COLUMN_HEAD))]:
                a, b = was.get(key, MISSING), c.get(key, MISSING)
                if a != b:
                    lines.append(Line("~", f"column {name}: {key} {_attribute(key, a)} -> {_attribute(key, b)}"))
    for parent in dict.fromkeys(p for p, _, _ in after):
        cut = len(parent) + 1 if parent else 0  # a record's fields by their own names
        a = [n[cut:] for p, n, _ in before if p == parent and n in new_by]
        b = [n[cut:] for p, n, _ in after if p == parent and n in old_by]
        if a != b:
            where = f" of {parent}" if parent else ""
            lines.append(Line("~", f"column order{where}: {', '.join(a)} -> {', '.join(b)}"))
    return lines


def _attribute(key: str, value: Any) -> str:
    """A column's type or mode bare (`INT64`), anything else as JSON (`"the description"`)."""
    return value if key in ("type", "mode") and isinstance(value, str) else value_text(value)


# --- an added resource ----------------------------------------------------------------------------


def listed_sections(rtype: str, inputs: dict) -> list[Section]:
    """Every input of a resource being created, readable and whole, each line marked `+`."""
    out: list[Section] = []
    for key in sorted(inputs):
        _listed(rtype, inputs[key], key, out)
    return out


def _listed(rtype: str, value: Any, path: str, out: list[Section]) -> None:
    if path == "accesses" and rtype == DATASET_TYPE and isinstance(value, list):
        out.append(Section(path, tuple(acl_lines([], value, mark_all="+"))))
    elif path == "schema" and rtype == TABLE_TYPE and columns(value) is not None:
        out.append(Section(path, tuple(schema_lines([], columns(value) or [], mark_all="+"))))
    elif isinstance(value, dict) and value:
        for key in sorted(value):
            _listed(rtype, value[key], _join(path, key), out)
    elif _multi_line(value):
        out.append(Section(path, tuple(Line("+", line) for line in value.splitlines())))
    elif isinstance(value, list) and value and not _scalar_list(value):
        for i, item in enumerate(value):
            _listed(rtype, item, f"{path}[{i}]", out)
    else:
        out.append(Section(None, (Line("+", f"{path}: {value_text(value)}"),)))


# --- helpers --------------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _multi_line(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.rstrip("\n")


def _text_or_missing(value: Any) -> bool:
    return value is MISSING or isinstance(value, str)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _list_or_missing(value: Any) -> bool:
    return value is MISSING or value is None or isinstance(value, list)


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)
