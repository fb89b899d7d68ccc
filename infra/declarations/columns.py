"""Column schemas: the contract of a table, as declared next to the SQL that fills it.

Used by the raw-source declarations (what the loaders deliver) and by every scheduled query and
view (what it must produce). A column is a name, a BigQuery standard SQL type, a mode and a
description; the description is required because the schema is the documentation analysts read.

Deliberately not here: nested RECORD columns (the warehouse's tables are flat; JSON columns hold
what is nested) and policy tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.declarations.files import Doc
from infra.declarations.keys import Field, read_mapping
from infra.problems import Problems

TYPES = ("STRING", "BYTES", "INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOL", "DATE", "DATETIME",
         "TIME", "TIMESTAMP", "JSON", "GEOGRAPHY")
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
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    mode: str
    description: str
    deprecated: str | None = None

    def as_bigquery_json(self) -> dict:
        """The column as BigQuery's table-schema JSON expects it."""
        description = f"DEPRECATED: {self.deprecated} | {self.description}" if self.deprecated else self.description
        # BigQuery keeps at most 1,024 characters of a column's description (docs/real-world.md)
        return {"name": self.name, "type": self.type, "mode": self.mode, "description": description[:1024]}


def read_columns(doc: Doc, path: tuple, raw: object, problems: Problems) -> tuple[Column, ...] | None:
    """Read a `columns:` list; None when any column has a problem."""
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
        key = f"{'.'.join(str(p) for p in path)}[{i}].name"
        if not _COLUMN.match(v["name"]):
            problems.add(file, doc.line(path + (i,)), key, f"{v['name']!r} is not a column name",
                         "use letters, digits and underscores, starting with a letter or _")
            continue
        if v["name"].lower() in seen:
            problems.add(file, doc.line(path + (i,)), key, f"column {v['name']!r} is declared twice",
                         "remove one of the two")
            continue
        seen.add(v["name"].lower())
        columns.append(Column(v["name"], v["type"], v["mode"], v["description"].strip(), v["deprecated"]))
    if len(problems) > before:
        return None
    return tuple(columns)
