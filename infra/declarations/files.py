"""Reading YAML files so that every value remembers the line it came from.

The loaders report problems as `file:line: key: what; fix`. PyYAML's safe loader drops the marks,
so this module composes the node tree itself and builds plain Python values from it, recording
the line of every mapping key and sequence item in a side table (`Doc.line(path)`).

Rejected here, before any schema check: files over `MAX_FILE_BYTES`, invalid YAML, duplicate keys
(PyYAML would silently keep the last one), non-string keys, merge keys, and documents that expand
to more than `MAX_VALUES` values: an alias (`*name`) repeats its anchor's whole value, so a few
hundred bytes of nested aliases (a "billion laughs") would otherwise never finish. The files' own
use of aliases (a column list shared by several tables) stays far below the limit. Deliberately
not here: what the keys mean (`keys.py` and the loaders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.problems import Problems

Path_ = tuple  # a key path such as ("grants", 0, "role")
MAX_FILE_BYTES = 1_000_000  # a declaration is a few kilobytes; the biggest here is under 10 KB
MAX_VALUES = 100_000  # values a document may expand to, aliases included


class _TooLarge(Exception):
    """The document expands to more than MAX_VALUES values."""


@dataclass
class Doc:
    """A parsed YAML document: its data plus the line of every key path."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    budget: int = MAX_VALUES  # values left to build (see MAX_VALUES)

    def line(self, path: Path_ = ()) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def key_text(path: Path_) -> str:
    """("grants", 0, "role") -> "grants[0].role"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_text(text: str, file: str, problems: Problems) -> Doc | None:
    """Parse `text`; on failure add one problem and return None."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.add(file, line, "", f"invalid YAML: {reason}",
                     "correct the YAML syntax at that line (indentation, quotes, colons)")
        return None
    doc = Doc(file=file, data=None)
    doc.budget = MAX_VALUES
    if node is None:
        doc.data = {}
        doc.lines[()] = 1
        return doc
    doc.lines[()] = node.start_mark.line + 1
    before = len(problems)
    try:
        doc.data = _build(node, (), doc, problems)
    except _TooLarge:
        problems.add(file, None, "", f"the YAML expands to more than {MAX_VALUES:,} values (nested anchors and "
                                     "aliases repeat whole values)", "write the values out, or alias only a list or "
                                                                     "mapping that holds plain values")
        return None
    if len(problems) > before:
        return None
    return doc


def load_file(path: Path, file: str, problems: Problems) -> Doc | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.add(file, None, "", f"the file is {size:,} bytes, more than a declaration needs "
                                         f"({MAX_FILE_BYTES:,} at most)",
                         "split it, or remove what is not a declaration")
            return None
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.add(file, None, "", "file is not UTF-8 text", "save the file as UTF-8")
        return None
    except OSError as exc:
        problems.add(file, None, "", f"cannot read file ({exc.strerror})",
                     "check that the file exists and is readable")
        return None
    return load_text(text, file, problems)


def declaration_files(folder: Path, root: Path, problems: Problems) -> list[Path]:
    """The `*.yaml` files directly in `folder`, sorted; a `.yml` file is a problem (it would be
    silently ignored otherwise)."""
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    for p in files:
        if p.suffix == ".yml":
            problems.add(relative(p, root), None, "", "declaration files end in .yaml",
                         f"rename it to {p.stem}.yaml")
    return [p for p in files if p.suffix == ".yaml"]


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def load_declaration(root: Path, path: Path, problems: Problems, what: str) -> Doc | None:
    """Load one declaration file, whose name (without .yaml) is the declared object's name."""
    file = relative(path, root)
    doc = load_file(path, file, problems)
    if doc is None:
        return None
    if not NAME.match(path.stem):
        problems.add(file, None, "", f"{what} name {path.stem!r} (from the file name) is not valid",
                     "rename the file to lower-case letters, digits and underscores, starting with a letter")
        return None
    return doc


_SAFE = yaml.SafeLoader("")
# libyaml's loader when PyYAML was built with it (several times faster on large trees); both keep
# the marks the line numbers come from.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _build(node: yaml.Node, path: Path_, doc: Doc, problems: Problems) -> Any:
    doc.budget -= 1
    if doc.budget < 0:
        raise _TooLarge
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.add(doc.file, line, key_text(path) or "<<",
                             "YAML merge keys (<<) are not supported",
                             "write the keys out in full")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                problems.add(doc.file, line, key_text(path) or "(top level)",
                             f"key {_scalar_text(key_node)!r} is not a plain string",
                             "use a plain word as the key (quote it if it looks like a number)")
                continue
            key = key_node.value
            if key in out:
                problems.add(doc.file, line, key_text(path + (key,)),
                             "duplicate key (the earlier value would be silently lost)",
                             "keep one of the two entries")
                continue
            doc.lines[path + (key,)] = line
            out[key] = _build(value_node, path + (key,), doc, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            doc.lines[path + (i,)] = item.start_mark.line + 1
            items.append(_build(item, path + (i,), doc, problems))
        return items
    try:
        return _SAFE.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problems.add(doc.file, node.start_mark.line + 1, key_text(path),
                     f"invalid value: {getattr(exc, 'problem', exc)}", "write a plain value")
        return None


def _scalar_text(node: yaml.Node) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__
