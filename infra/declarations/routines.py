"""Routines: persistent functions, `routines/<dataset>/<name>.yaml` beside its body.

A routine is a persistent user-defined function (a scalar function) or a table function, in a
managed dataset: `routines/mart/normalize_email.yaml` with `normalize_email.sql` declares
`mart.normalize_email`. The body's language is its file's extension: `.sql` (GoogleSQL: the
expression of a scalar function, the SELECT of a table function) or `.js` (JavaScript, scalar
functions only: BigQuery's table functions are SQL). The YAML holds what the body cannot say:

    description: Lower-cased e-mail without the +tag of its local part.
    kind: scalar_function          # scalar_function | table_function
    arguments:
      - {name: email, type: STRING}
    returns: STRING                # a scalar function's type
    # columns: [...]               # a table function's return table: the contract of its rows
    # determinism: deterministic   # JavaScript only: deterministic | not_deterministic

SQL names a routine as it names a table, `<dataset>.<name>` (`mart.normalize_email(email)`,
`FROM mart.user_sessions(@run_date)`); the checks resolve it per stack (`checks/routines.py`).

Deliberately not here: procedures, remote and Spark functions, `ANY TYPE`, ARRAY and STRUCT
arguments and results, imported JavaScript libraries, and what the body reads (the checks parse it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.declarations.columns import TYPES, Column, read_columns
from infra.declarations.files import NAME, Doc, load_file, relative
from infra.declarations.keys import Field, read_mapping
from infra.problems import Problems

KINDS = ("scalar_function", "table_function")
# BigQuery's routineType for each kind (the provider's `routine_type`).
ROUTINE_TYPES = {"scalar_function": "SCALAR_FUNCTION", "table_function": "TABLE_VALUED_FUNCTION"}
# The body's file extension -> its language (the provider's `language`).
LANGUAGES = {".sql": "SQL", ".js": "JAVASCRIPT"}
DETERMINISM = ("deterministic", "not_deterministic")
FOLDER = "routines"
MAX_BODY_BYTES = 1_000_000  # the body is part of every query that calls it: BigQuery's 1 MB query limit

ROUTINE_FIELDS = (
    Field("description", str, required=True, example="'Lower-cased e-mail without its +tag.'"),
    Field("kind", str, default="scalar_function", choices=KINDS, example="table_function"),
    Field("arguments", list, default=[], example="[{name: email, type: STRING}]"),
    Field("returns", str, choices=TYPES, example="STRING"),
    Field("columns", list, example="[{name: session_id, type: STRING, description: ...}]"),
    Field("determinism", str, choices=DETERMINISM, example="deterministic"),
)
ARGUMENT_FIELDS = (
    Field("name", str, required=True, example="email"),
    Field("type", str, required=True, choices=TYPES, example="STRING"),
)


@dataclass(frozen=True)
class Argument:
    name: str
    type: str


@dataclass(frozen=True)
class RoutineSpec:
    name: str  # the routine's id (the file name)
    dataset: str  # the managed dataset's name (the folder)
    file: str  # the YAML file
    body_file: str
    body: str
    language: str  # SQL | JAVASCRIPT
    kind: str  # scalar_function | table_function
    description: str
    arguments: tuple[Argument, ...]
    returns: str | None  # a scalar function's type
    columns: tuple[Column, ...]  # a table function's return table
    determinism: str | None

    @property
    def key(self) -> str:
        """`dataset.name`, as SQL names it and as the lineage knows it."""
        return f"{self.dataset}.{self.name}"

    @property
    def sql_file(self) -> str:
        """The body's file, under the name problems about a query's SQL take it from."""
        return self.body_file

    @property
    def is_table_function(self) -> bool:
        return self.kind == "table_function"


def load_routines(root: Path, problems: Problems) -> tuple[RoutineSpec, ...]:
    base = root / FOLDER
    if not base.is_dir():
        return ()
    specs = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        names = {p.stem for p in folder.iterdir() if p.is_file()}
        for name in sorted(names):
            spec = _load_routine(root, folder, name, problems)
            if spec is not None:
                specs.append(spec)
    for stray in sorted(p for p in base.iterdir() if p.is_file()):
        problems.add(relative(stray, root), None, "", "routines live in the folder of their dataset",
                     f"move it to {FOLDER}/<dataset>/{stray.name}")
    return tuple(specs)


def _load_routine(root: Path, folder: Path, name: str, problems: Problems) -> RoutineSpec | None:
    yaml_path = folder / f"{name}.yaml"
    bodies = [folder / f"{name}{ext}" for ext in LANGUAGES if (folder / f"{name}{ext}").is_file()]
    others = sorted(p.name for p in folder.glob(f"{name}.*")
                    if p.suffix not in (".yaml", *LANGUAGES) and p.stem == name)
    for other in others:
        problems.add(relative(folder / other, root), None, "", "not a routine's file",
                     f"a routine is {name}.yaml beside its body, {name}.sql (SQL) or {name}.js (JavaScript)")
    if not yaml_path.is_file():
        if bodies:
            problems.add(relative(bodies[0], root), None, "", "a routine body without its YAML (description, "
                         "arguments, return type)", f"add {relative(yaml_path, root)}")
        return None
    file = relative(yaml_path, root)
    if len(bodies) != 1:
        what = "has no body" if not bodies else "has two bodies (.sql and .js)"
        problems.add(file, None, "", f"routine {folder.name}.{name} {what}",
                     f"keep exactly one of {name}.sql (SQL) or {name}.js (JavaScript) beside it")
        return None
    doc = load_file(yaml_path, file, problems)
    if doc is None:
        return None
    if not NAME.match(name) or not NAME.match(folder.name):
        problems.add(file, None, "", f"{folder.name}/{name} is not a valid dataset/routine name",
                     "use lower-case letters, digits and underscores, starting with a letter")
        return None
    before = len(problems)
    v = read_mapping(doc, (), doc.data, ROUTINE_FIELDS, problems, "a routine")
    if v is None:
        return None
    body_path = bodies[0]
    language = LANGUAGES[body_path.suffix]
    arguments = _arguments(doc, v, problems) if "arguments" not in v.rejected else ()
    kind = v["kind"]
    columns = _returns(doc, v, kind, language, problems)
    body = _body(root, body_path, problems)
    if len(problems) > before or body is None:
        return None
    return RoutineSpec(name=name, dataset=folder.name, file=file, body_file=relative(body_path, root), body=body,
                       language=language, kind=kind, description=v["description"].strip(), arguments=arguments,
                       returns=v["returns"], columns=columns, determinism=v["determinism"])


def _arguments(doc: Doc, v: dict, problems: Problems) -> tuple[Argument, ...]:
    out, seen = [], set()
    for i, item in enumerate(v["arguments"]):
        a = read_mapping(doc, ("arguments", i), item, ARGUMENT_FIELDS, problems, "an argument")
        if not a or a.rejected:
            continue
        if not NAME.match(a["name"]):
            problems.add(doc.file, doc.line(("arguments", i)), f"arguments[{i}].name",
                         f"{a['name']!r} is not an argument name", "use lower-case letters, digits and underscores")
        elif a["name"] in seen:
            problems.add(doc.file, doc.line(("arguments", i)), f"arguments[{i}].name",
                         f"argument {a['name']!r} is declared twice", "rename one of the two")
        else:
            seen.add(a["name"])
            out.append(Argument(a["name"], a["type"]))
    return tuple(out)


def _returns(doc: Doc, v: dict, kind: str, language: str, problems: Problems) -> tuple[Column, ...]:
    """A scalar function's `returns:`, a table function's `columns:`, and the options of one kind only."""
    file = doc.file
    data = doc.data if isinstance(doc.data, dict) else {}
    if kind == "table_function":
        if language != "SQL":
            problems.add(file, doc.line(("kind",)), "kind", "a table function's body is SQL",
                         "write the SELECT in a .sql file, or make it a scalar_function")
        for key in ("returns", "determinism"):
            if key in data:
                problems.add(file, doc.line((key,)), key, f"a table function has no `{key}:`",
                             "its rows are declared under `columns:`" if key == "returns" else f"remove `{key}:`")
        if "columns" not in data:
            problems.add(file, doc.line(), "columns", "a table function declares the columns it returns",
                         "add `columns:` (the same form as a table's) with its output's names and types")
            return ()
        return read_columns(doc, ("columns",), v["columns"], problems) or ()
    if "columns" in data:
        problems.add(file, doc.line(("columns",)), "columns", "a scalar function returns one value",
                     "declare its type in `returns:`, or make it a `kind: table_function`")
    if v["returns"] is None and "returns" not in v.rejected:
        problems.add(file, doc.line(), "returns", "a scalar function declares the type it returns",
                     "add `returns: STRING` (or the type of its result)")
    if "determinism" in data and language != "JAVASCRIPT":
        problems.add(file, doc.line(("determinism",)), "determinism",
                     "only a JavaScript function takes a determinism level (BigQuery infers a SQL function's)",
                     "remove `determinism:`")
    return ()


def _body(root: Path, path: Path, problems: Problems) -> str | None:
    file = relative(path, root)
    if path.stat().st_size > MAX_BODY_BYTES:
        problems.add(file, None, "", f"the body is over {MAX_BODY_BYTES:,} bytes: BigQuery refuses a query over 1 MB",
                     "shorten it")
        return None
    try:
        body = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.add(file, None, "", "file is not UTF-8 text", "save the file as UTF-8")
        return None
    if not body.strip():
        problems.add(file, 1, "", "the routine's body is empty",
                     "write the expression (a scalar function) or the SELECT (a table function)")
        return None
    return body
