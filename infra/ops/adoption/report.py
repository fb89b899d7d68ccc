"""The migration report of `adopt`: Markdown for the reviewer, JSON for machines.

Exit codes as `drift` uses them: 0 when the first `up` after the import changes nothing that
exists (it may still create what is missing), 2 when it changes, removes or would replace
something, or something exists that the files do not declare; 1 on error (the CLI's).
"""

from __future__ import annotations

from dataclasses import asdict

from infra.ops.adoption.migration import Migration

_TITLES = (
    ("replace", "Blocking: the provider would replace these (protection stops the `up`)"),
    ("kind", "Blocking: a table where a view is declared, or the other way round"),
    ("acl_removed", "ACL entries the first `up` removes"),
    ("acl_added", "ACL entries the first `up` adds"),
    ("schema", "Declared tables whose live columns differ from the contract"),
    ("clustering", "Clustering the first `up` changes"),
    ("update", "Descriptions and labels the first `up` changes"),
    ("source", "Raw sources to check with their owners"),
    ("undeclared_dataset", "Datasets the files do not declare (left alone)"),
    ("undeclared_table", "Tables and views the files do not declare (left alone)"),
)


def exit_code(m: Migration) -> int:
    return 2 if m.changes else 0


def as_json(m: Migration, import_path: str | None = None) -> dict:
    counts: dict[str, int] = {}
    for c in m.changes:
        counts[c.category] = counts.get(c.category, 0) + 1
    return {"stack": m.stack, "project": m.project, "exit_code": exit_code(m), "import_file": import_path,
            "imports": m.imports, "creates": m.creates, "counts": counts,
            "blocking": sum(1 for c in m.changes if c.blocking),
            "changes": [{**asdict(c), "blocking": c.blocking} for c in m.changes]}


def render_markdown(m: Migration, import_path: str | None = None) -> str:
    lines = [f"## Adopting stack `{m.stack}` (project `{m.project}`)", ""]
    blocking = [c for c in m.changes if c.blocking]
    lines.append(f"- **{len(m.imports)}** existing objects to import"
                 + (f" with `pulumi import --file {import_path}`" if import_path else ""))
    lines.append(f"- **{len(m.creates)}** declared objects that do not exist yet: the first `up` creates them")
    if not m.changes:
        lines.append("- **Nothing that exists changes** (exit 0).")
    else:
        lines.append(f"- **{len(m.changes)} changes** to what exists (exit 2)"
                     + (f", **{len(blocking)} blocking**: resolve them before `up`" if blocking else ""))
    lines.append("")
    for category, title in _TITLES:
        group = [c for c in m.changes if c.category == category]
        if group:
            lines += [f"### {title}", ""]
            lines += [f"- **{c.subject}**: {c.what}. Fix: {c.action}." for c in group]
            lines.append("")
    if m.imports:
        lines += ["### To import", "", ", ".join(m.imports), ""]
    if m.creates:
        lines += ["### Created by the first `up`", "", ", ".join(m.creates), ""]
    return "\n".join(lines).rstrip() + "\n"
