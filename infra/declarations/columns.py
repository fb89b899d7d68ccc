"""Column schemas: the contract of a table, as declared next to the SQL that fills it.

Used by the raw-source declarations (what the loaders deliver) and by every scheduled query and
view (what it must produce). A column is a name, a BigQuery standard SQL type, a mode and a
description; the description is required because the schema is the documentation analysts read.
Nested columns are written as in BigQuery's schema JSON: `type: STRUCT` (or `RECORD`, the same)
with `fields:` (columns, recursively, at most 15 levels of STRUCT deep), and `mode: REPEATED` for
an array (of scalars or of structs). `Column.sql_type` is the standard SQL type every check
compares (`ARRAY<STRUCT<key STRING, value STRUCT<int_value INT64>>>`), `sql_type_of_json` the same
for a schema JSON field (the plan's, the emulator's).

Deliberately not here: policy tags, default values and collations of columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.declarations.files import Doc, key_text
from infra.declarations.keys import Field, read_mapping
from infra.problems import Problems

TYPES = ("STRING", "BYTES", "INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOL", "DATE", "DATETIME",
         "TIME", "TIMESTAMP", "JSON", "GEOGRAPHY", "STRUCT", "RECORD")
NESTED_TYPES = ("STRUCT", "RECORD")  # the same type: RECORD is the schema's name of a STRUCT (docs/real-world.md)
# "A schema cannot contain more than 15 levels of nested RECORD types" (docs/real-world.md, "nested-depth").
MAX_NESTING = 15
MODES = ("NULLABLE", "REQUIRED", "REPEATED")
PARTITION_TYPES = ("DATE", "TIMESTAMP", "DATETIME")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")

COLUMN_FIELDS = (
    Field("name", str, required=True, example="user_id"),
    Field("type", str, required=True, choices=TYPES, example="STRING"),
    Field("mode", str, default="NULLABLE", choices=MODES, example="REQUIRED"),
    # "the text can be at most 1,024 characters" (docs/real-world.md, "description-lengths")
    Field("description", str, required=True, example="'Stripe customer id (cus_...).'", max_length=1024),
    # Why the column will go and what replaces it: a tool that reads it is told before it is removed
    # (`check --base` refuses removing a column something reads unless the earlier version said this).
    Field("deprecated", str, example="'use plan_tier instead; removed after 2027-01-31'", max_length=300),
    # A STRUCT's (RECORD's) columns, read like `columns:`; required for a STRUCT, refused otherwise.
    Field("fields", list, example="[{name: key, type: STRING, description: '...'}]"),
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    mode: str
    description: str
    deprecated: str | None = None
    fields: tuple[Column, ...] = ()  # a STRUCT's columns; empty for every other type

    def as_bigquery_json(self) -> dict:
        """The column as BigQuery's table-schema JSON expects it (a STRUCT as RECORD with its `fields`)."""
        description = f"DEPRECATED: {self.deprecated} | {self.description}" if self.deprecated else self.description
        # BigQuery keeps at most 1,024 characters of a column's description (docs/real-world.md)
        out = {"name": self.name, "type": self.type, "mode": self.mode, "description": description[:1024]}
        if self.type == "STRUCT":
            # The API answers RECORD, and the provider does not take STRUCT for the same type: STRUCT
            # would read as a type change that replaces the table (docs/real-world.md, "record-type").
            out["type"] = "RECORD"
            out["fields"] = [f.as_bigquery_json() for f in self.fields]
        return out

    @property
    def sql_type(self) -> str:
        """The standard SQL type of the column's values: `ARRAY<...>` when REPEATED, `STRUCT<...>` nested."""
        return sql_type_of_json(self.as_bigquery_json())


# The schema's legacy type names (docs/real-world.md, "type-aliases").
_STANDARD = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}


def sql_type_of_json(field: dict) -> str:
    """The standard SQL type of a schema JSON field (`{"name", "type", "mode", "fields"}`)."""
    kind = _STANDARD.get(str(field.get("type") or "").upper(), str(field.get("type") or "").upper())
    if kind == "STRUCT":
        inner = ", ".join(f"{f['name']} {sql_type_of_json(f)}" for f in field.get("fields") or ())
        kind = f"STRUCT<{inner}>"
    return f"ARRAY<{kind}>" if str(field.get("mode") or "").upper() == "REPEATED" else kind


def read_columns(doc: Doc, path: tuple, raw: object, problems: Problems, level: int = 1) -> tuple[Column, ...] | None:
    """Read a `columns:` list (a STRUCT's `fields:` at `level` > 1); None when any column has a problem."""
    file = doc.file
    if not isinstance(raw, list) or not raw:
        problems.add(file, doc.line(path), ".".join(str(p) for p in path),
                     "must be a non-empty list of columns",
                     "write `- {name: id, type: STRING, description: '...'}` items")
        return None
    before = len(problems)
    columns: list[Column] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        v = read_mapping(doc, path + (i,), item, COLUMN_FIELDS, problems, "a column")
        if not v or {"name", "type", "description"} & v.rejected:
            continue
        key = key_text(path + (i, "name"))
        if not _COLUMN.match(v["name"]):
            problems.add(file, doc.line(path + (i,)), key, f"{v['name']!r} is not a column name",
                         "use letters, digits and underscores, starting with a letter or _")
            continue
        if v["name"].lower() in seen:
            problems.add(file, doc.line(path + (i,)), key, f"column {v['name']!r} is declared twice",
                         "remove one of the two")
            continue
        seen.add(v["name"].lower())
        kind = "STRUCT" if v["type"] in NESTED_TYPES else v["type"]
        fields = _read_fields(doc, path + (i,), v, kind, problems, level)
        if fields is not None:
            columns.append(Column(v["name"], kind, v["mode"], v["description"].strip(), v["deprecated"], fields))
    if len(problems) > before:
        return None
    return tuple(columns)


def _read_fields(doc: Doc, path: tuple, v, kind: str, problems: Problems, level: int) -> tuple[Column, ...] | None:
    """A column's `fields:`: a STRUCT's columns (required), nothing for any other type."""
    key = key_text(path + ("fields",))
    if "fields" in v.rejected:
        return None
    if kind != "STRUCT":
        if v["fields"] is None:
            return ()
        problems.add(doc.file, doc.line(path + ("fields",)), key, f"a {v['type']} column has no fields",
                     "remove `fields:`, or make the column `type: STRUCT`")
        return None
    if v["fields"] is None:
        problems.add(doc.file, doc.line(path), key, "a STRUCT (RECORD) column needs its fields",
                     "add `fields: [{name: key, type: STRING, description: '...'}]`")
        return None
    if level > MAX_NESTING:
        problems.add(doc.file, doc.line(path + ("fields",)), key,
                     f"a STRUCT nested more than {MAX_NESTING} levels deep: BigQuery refuses the schema",
                     "flatten a level (e.g. a JSON column for the innermost part)")
        return None
    return read_columns(doc, path + ("fields",), v["fields"], problems, level + 1)
