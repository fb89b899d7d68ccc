"""What the first `up` after the import does to what exists, compared object by object.

`compare(warehouse, live)` returns one `Change` per difference, in these categories:
- `acl_removed` / `acl_added`: the dataset's ACL is authoritative (the program writes the whole
  list), so every live entry the files do not grant is removed. For a person or group removed,
  the role to join instead: the role whose grant on that dataset comes closest to the access they
  had (people join a role through its group; individuals are never WRITER or OWNER);
- `replace` (blocking): a dataset in another location, a table partitioned on another column, or
  a table that is not partitioned where the files partition it: the provider would replace the
  object (or BigQuery refuses the change), and protection stops the `up`;
- `kind` (blocking): a table where the files declare a view, or the other way round;
- `schema`: a declared table whose live columns differ from the contract. `up` does not change a
  table's schema (`ignore_changes: [schema]`), so the differences stay until someone fixes them,
  and some make the first scheduled run fail (a declared column missing, a live REQUIRED column
  the query does not fill);
- `clustering`, `update`: in-place updates (clustering columns; description and labels);
- `undeclared_dataset` / `undeclared_table`: what exists and the files do not declare; `up`
  leaves it alone (it is in no state);
- `source`: a raw source whose dataset does not exist, or whose owner has not made the accounts
  listed under `readers:` READER of it.

Creations (a declared object that does not exist yet) and imports are listed apart: they change
nothing that exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.declarations.columns import Column
from infra.model.warehouse import ADMIN_ROLE, Dataset, Warehouse
from infra.ops.adoption.live import LiveDataset, LiveProject, LiveTable
from infra.ops.unmanaged import declared_key, describe_key
from infra.vocabulary import BACKUP_LAYERS

ROLE_ORDER = ("READER", "WRITER", "OWNER")
CHANGES = ("acl_removed", "acl_added", "replace", "kind", "schema", "clustering", "update", "undeclared_dataset",
           "undeclared_table", "source")
BLOCKING = ("replace", "kind")


@dataclass(frozen=True)
class Change:
    category: str
    subject: str  # dataset id, or `dataset.table`
    what: str
    action: str
    detail: dict = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return self.category in BLOCKING


@dataclass
class Migration:
    stack: str
    project: str
    imports: list[str] = field(default_factory=list)  # `dataset` or `dataset.table` ids to import
    creates: list[str] = field(default_factory=list)  # declared, not there: `up` creates them
    changes: list[Change] = field(default_factory=list)


def compare(warehouse: Warehouse, live: LiveProject) -> Migration:
    stack = warehouse.stack
    out = Migration(stack.stack, stack.project)
    managed = {d.dataset_id: d for d in warehouse.datasets if d.project == stack.project}
    sources = {s.dataset_id for s in warehouse.sources if s.project == stack.project}
    for dataset_id, dataset in sorted(managed.items()):
        found = live.datasets.get(dataset_id)
        if found is None:
            out.creates.append(dataset_id)
            out.creates += [f"{dataset_id}.{q.spec.name}" for q in _queries(warehouse, dataset)]
            continue
        out.imports.append(dataset_id)
        out.changes += _dataset_changes(warehouse, dataset, found)
        declared = {q.spec.name: q for q in _queries(warehouse, dataset)}
        for name, q in sorted(declared.items()):
            table = found.tables.get(name)
            if table is None:
                out.creates.append(f"{dataset_id}.{name}")
            else:
                out.imports.append(f"{dataset_id}.{name}")
                out.changes += _table_changes(dataset_id, q.spec, table)
        if dataset.layer not in BACKUP_LAYERS:
            for name, table in sorted(found.tables.items()):
                if name not in declared:
                    out.changes.append(_undeclared_table(warehouse, dataset_id, table))
    for dataset_id in sorted(live.datasets):
        if dataset_id not in managed and dataset_id not in sources and not dataset_id.startswith("_"):
            out.changes.append(Change(
                "undeclared_dataset", dataset_id, "a dataset the files do not declare; `up` leaves it alone",
                f"declare it in datasets/ (its id is the prefix {stack.dataset_prefix!r} plus the file name) to "
                "manage it, declare it as a raw source if a loader fills it, or delete it once nobody uses it"))
    out.changes += _source_changes(warehouse, live)
    return out


def _queries(warehouse: Warehouse, dataset: Dataset):
    return [q for q in warehouse.queries if q.spec.dataset == dataset.name]


# --- datasets -------------------------------------------------------------------------------------------

def _dataset_changes(warehouse: Warehouse, dataset: Dataset, found: LiveDataset) -> list[Change]:
    out = []
    if found.location.upper() != dataset.location.upper():
        out.append(Change("replace", dataset.dataset_id,
                          f"the dataset is in {found.location}; the files put it in {dataset.location}, and a "
                          "dataset's location cannot change: the provider would replace it (its tables lost), which "
                          "protection refuses",
                          f"set `location: {found.location}` in {dataset.spec.file}, or move the data yourself first",
                          {"live": found.location, "declared": dataset.location}))
    declared = {declared_key(e) for e in dataset.accesses}
    for key in sorted(set(found.acl) - declared):
        out.append(Change("acl_removed", dataset.dataset_id, f"removes {describe_key(key)}",
                          _instead(warehouse, dataset, key), {"entry": list(key)}))
    added = sorted(declared - set(found.acl))
    if added:
        out.append(Change("acl_added", dataset.dataset_id, f"adds {', '.join(describe_key(k) for k in added)}",
                          "nothing to do: the files grant them", {"entries": [list(k) for k in added]}))
    updates = []
    if (found.description or "") != dataset.spec.description:
        updates.append("description")
    changed = sorted(k for k, v in dataset.labels.items() if found.labels.get(k) != v)
    dropped = sorted(k for k in found.labels if k not in dataset.labels)
    if changed:
        updates.append(f"labels set: {', '.join(changed)}")
    if dropped:
        updates.append(f"labels removed: {', '.join(dropped)}")
    if updates:
        out.append(Change("update", dataset.dataset_id, f"updates {'; '.join(updates)}",
                          "nothing to do, unless a label removed is used (billing reports): then declare it under "
                          f"`labels:` in {dataset.spec.file}", {"updates": updates}))
    return out


def _instead(warehouse: Warehouse, dataset: Dataset, key: tuple[str, str, str]) -> str:
    """What the holder of a removed entry should do to keep the access they need."""
    role, entity_type, ident = key
    if entity_type == "specialGroup":
        return ("project-level roles no longer reach the dataset through it; people who need access join a role "
                "(roles/ and warehouse:members)")
    if entity_type in ("dataset", "view", "routine"):
        return "authorizations come from the files: a view that reads the dataset authorizes its own dataset"
    if ident.endswith(".gserviceaccount.com"):
        return (f"if this account ({ident}) still needs {role or 'access'}, declare a role for it in roles/ with "
                f"the grant and list the account under warehouse:members in Pulumi.{warehouse.stack.stack}.yaml")
    grants = _human_grants(warehouse, dataset)
    people = [g for g in grants if g[0] != ADMIN_ROLE]  # the admin role is for platform admins
    if not people:
        admins = next((g for g in grants if g[0] == ADMIN_ROLE), None)
        only = f" (only role {ADMIN_ROLE} has access, through {', '.join(admins[2])})" if admins else ""
        return (f"no role for people has access to {dataset.dataset_id}{only}: if they need it, add a grant to a role "
                "in roles/")
    wanted = ROLE_ORDER.index(role) if role in ROLE_ORDER else 0
    below = [g for g in people if ROLE_ORDER.index(g[1]) <= wanted]
    name, granted, members = max(below, key=lambda g: ROLE_ORDER.index(g[1])) if below else \
        min(people, key=lambda g: ROLE_ORDER.index(g[1]))
    text = f"to keep access, join role {name} ({granted} on {dataset.dataset_id}) through {', '.join(members)}"
    if granted != role and role in ROLE_ORDER:
        admin = next((g for g in grants if g[0] == ADMIN_ROLE and g[1] == role), None)
        text += f" (no role for people gives {role} here"
        text += f"; role {ADMIN_ROLE} does, through {', '.join(admin[2])}, for platform admins)" if admin else ")"
    return text


def _human_grants(warehouse: Warehouse, dataset: Dataset) -> list[tuple[str, str, list[str]]]:
    """(role name, dataset role, its members) for each role of people with access to `dataset`."""
    by_member = {(e.principal.member if e.principal else None): e.role for e in dataset.accesses}
    out = []
    for role in warehouse.roles:
        if role.service_account is not None or not role.members:
            continue
        held = {by_member.get(p.member) for p in role.members} & set(ROLE_ORDER)
        if held:
            strongest = max(held, key=ROLE_ORDER.index)
            out.append((role.name, strongest, [p.member for p in role.members]))
    return out


# --- tables ---------------------------------------------------------------------------------------------

def _table_changes(dataset_id: str, spec, table: LiveTable) -> list[Change]:
    subject = f"{dataset_id}.{spec.name}"
    if (table.kind == "VIEW") != spec.is_view:
        declared = "a view" if spec.is_view else "a table"
        return [Change("kind", subject, f"exists as {table.kind}; the files declare {declared}",
                       f"copy what it holds to a backup dataset if it is worth keeping, then delete it "
                       f"(`bq rm -t {dataset_id}.{spec.name}`) so that `up` creates {declared}, or rename the "
                       f"declaration", {"live": table.kind})]
    if spec.is_view:
        return []
    out = []
    replace = _partitioning_change(spec, table)
    if replace:
        out.append(Change("replace", subject, replace,
                          f"rebuild it partitioned as declared before `up`: `CREATE TABLE ... PARTITION BY ... AS "
                          f"SELECT * FROM {dataset_id}.{spec.name}` into a new table, check it, then swap them; or "
                          f"change `partitioning:` in {spec.file} to what exists",
                          {"live_field": table.partition_field}))
    if tuple(spec.clustering) != table.clustering:
        out.append(Change("clustering", subject,
                          f"clusters on {', '.join(table.clustering) or 'nothing'}; `up` changes it to "
                          f"{', '.join(spec.clustering) or 'nothing'} in place (new data only)",
                          "nothing to do", {"live": list(table.clustering), "declared": list(spec.clustering)}))
    problems = schema_differences(spec.columns, table.columns)
    if problems:
        out.append(Change("schema", subject, "its columns differ from the contract: " + "; ".join(problems),
                          f"`up` leaves a table's schema as it is (ignore_changes: schema): fix the table "
                          f"(`ALTER TABLE ... ADD COLUMN`, `bq update` with the declared schema) or rebuild it as "
                          f"declared, or change the contract in {spec.file}",
                          {"differences": problems}))
    return out


def _partitioning_change(spec, table: LiveTable) -> str | None:
    declared = spec.partitioning.field if spec.partitioning else None
    if declared == table.partition_field and not table.ingestion_partitioned and not table.range_partitioned:
        return None
    if declared is None:
        return None if not (table.partition_field or table.ingestion_partitioned or table.range_partitioned) else (
            "is partitioned and the files do not partition it: the provider would drop the partitioning, which "
            "BigQuery does not allow on an existing table")
    if table.partition_field is None:
        return (f"is not partitioned by a column; the files partition it by {declared}, and an existing table "
                "cannot be converted to a partitioned one")
    return (f"is partitioned by {table.partition_field}; the files partition it by {declared}: the provider would "
            "replace the table (its data lost), which protection refuses")


def schema_differences(declared: tuple[Column, ...], live) -> list[str]:
    """The differences between a contract and a live schema, each with what it does to the runs. A
    STRUCT is compared field by field (`event_params.value.int_value`)."""
    out: list[str] = []
    described: list[str] = []
    _compare(declared, live, "", out, described)
    if described:
        shown = ", ".join(described[:3]) + (f" and {len(described) - 3} more" if len(described) > 3 else "")
        out.append(f"the descriptions of {len(described)} of {_count(declared)} columns are not the contract's "
                   f"({shown})")
    return out


def _compare(declared, live, prefix: str, out: list[str], described: list[str]) -> None:
    have = {c.name.lower(): c for c in live}
    want = {c.name.lower(): c for c in declared}
    for key, c in want.items():
        name, found = prefix + c.name, have.get(key)
        if found is None:
            out.append(f"{name} is missing (every run fails: the INSERT names it)" if not prefix else
                       f"{name} is missing (runs fail: the STRUCT the query writes has it)")
            continue
        if found.type != c.type:
            out.append(f"{name} is {found.type}, declared {c.type} (runs fail unless BigQuery coerces it)")
        elif c.type == "STRUCT":
            _compare(c.fields, found.fields, f"{name}.", out, described)
        if found.mode != c.mode:
            effect = ("a NULL fails the run" if found.mode == "REQUIRED" else
                      "REQUIRED is not enforced by the table" if c.mode == "REQUIRED" else "the shape differs")
            out.append(f"{name} is {found.mode}, declared {c.mode} ({effect})")
        if (found.description or "") != c.description:
            described.append(name)
    for key, found in have.items():
        if key not in want:
            effect = "the STRUCT the query writes lacks it" if prefix else \
                "every run fails: the INSERT leaves it NULL" if found.mode == "REQUIRED" else "runs leave it NULL"
            out.append(f"{prefix}{found.name} is not declared ({effect})")


def _count(columns) -> int:
    """Columns and STRUCT fields, at every level."""
    return sum(1 + _count(c.fields) for c in columns)


def _undeclared_table(warehouse: Warehouse, dataset_id: str, table: LiveTable) -> Change:
    noun = "a view" if table.kind == "VIEW" else f"a {table.kind.lower().replace('_', ' ')}"
    return Change("undeclared_table", f"{dataset_id}.{table.table_id}",
                  f"{noun} the files do not declare (dbt's, or made by hand); `up` leaves it alone",
                  "declare it under scheduled_queries/ and adopt it with the next `adopt`, or delete it once nobody "
                  f"reads it (`bq rm -t {warehouse.stack.project}:{dataset_id}.{table.table_id}`)",
                  {"kind": table.kind})


# --- raw sources ----------------------------------------------------------------------------------------

def _source_changes(warehouse: Warehouse, live: LiveProject) -> list[Change]:
    accounts = {r.name: r.service_account for r in warehouse.roles if r.service_account}
    out = []
    for s in warehouse.sources:
        found = live.sources.get(s.name)
        address = f"{s.project}.{s.dataset_id}"
        if s.name in live.unreadable_sources:
            out.append(Change("source", address, f"raw source {s.name}'s ACL could not be read "
                                                 f"({live.unreadable_sources[s.name]})",
                              f"ask its owner ({s.spec.loader}) to confirm that the accounts under `readers:` in "
                              f"{s.spec.file} are READER of it"))
            continue
        if found is None:
            out.append(Change("source", address, f"raw source {s.name}'s dataset does not exist",
                              f"check `dataset_id` (and `project`) in {s.spec.file}, or that {s.spec.loader} loads it"))
            continue
        readers = {ident for role, kind, ident in found.acl if role in ROLE_ORDER and kind == "userByEmail"}
        missing = [f"{accounts[name].email} (role {name})" for name in s.spec.readers
                   if name in accounts and accounts[name].email.lower() not in readers]
        if missing:
            out.append(Change("source", address,
                              f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not READER of raw "
                              f"source {s.name}, as its `readers:` in {s.spec.file} says",
                              f"after the first `up` creates the accounts, ask the owner of {address} "
                              f"({s.spec.loader}) to make them READER; until then the jobs that read it fail",
                              {"missing": missing}))
    return out
