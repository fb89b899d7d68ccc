"""A dataset's ACL in a drift review: entry by entry, added, removed or changed, and by whom.

The ACL is a set (its order means nothing): the entries BigQuery has now (the program step's
`oldState`) are compared with the files' (its `newState`) as texts (`acl_entry_text`), and with
the ACL the last `up` left (the refresh step's state) to tell a change made outside the code from
a change of the files not applied yet.
"""

from __future__ import annotations

from infra.ops.drift.preview import StepsOf, state_value
from infra.ops.drift.subjects import Context, Finding, Target, finding
from infra.vocabulary import acl_entry_text


def _acl_list(state: dict | None, prefer: str) -> list[dict] | None:
    value = state_value(state, ("accesses",), prefer)
    if not isinstance(value, list):
        return None
    return [e for e in value if isinstance(e, dict)]


def _who(description: str) -> str:
    return description.split(" ", 1)[1] if " " in description else description


def acl_findings(target: Target, resource: StepsOf, old: dict | None, new: dict | None,
                  ctx: Context) -> list[Finding]:
    cloud = {acl_entry_text(e): e for e in _acl_list(old, "outputs") or []}
    files = {acl_entry_text(e): e for e in _acl_list(new, "inputs") or []}
    extra = [d for d in cloud if d not in files]
    missing = [d for d in files if d not in cloud]
    # What the last `up` left: the refresh step's state (the state before the refresh).
    before = {acl_entry_text(e) for e in _acl_list(resource.checkpoint, "inputs") or []}

    def origin(description: str, present_in_cloud: bool) -> str:
        if resource.refresh is None:
            return "unknown"
        changed = (description not in before) if present_in_cloud else (description in before)
        return "outside" if changed else "files"

    findings = []

    def not_applied(change: str, detail: str, **where: str) -> None:
        # The files' side differs from BigQuery's because the files changed: the next `up` applies it.
        findings.append(finding(target, "not_applied", "files", f"the files {change}, not applied yet ({detail})",
                                 f"Run the `up` of stack {ctx.stack}.", property="accesses", **where))

    changed_who = {_who(d) for d in extra} & {_who(d) for d in missing}
    for description in extra:
        who = _who(description)
        if who in changed_who:
            declared = next(d for d in missing if _who(d) == who)
            o = origin(description, True)
            if o == "files":
                not_applied("change an ACL entry", f"{description} in BigQuery, {declared} in the files",
                            in_bigquery=description, in_files=declared)
                continue
            findings.append(finding(
                target, "acl_entry_changed", o,
                f"an ACL entry was changed outside the code ({description}; the files say {declared.split(' ')[0]})",
                f"Re-apply to put {declared.split(' ')[0]} back, or change the role's grant in roles/ "
                f"(or the member's role in {ctx.stack_file}) to adopt it.",
                property="accesses", in_bigquery=description, in_files=declared))
            continue
        o = origin(description, True)
        if o == "files":
            not_applied("remove an ACL entry", description, in_bigquery=description)
            continue
        category, what, action = _extra_acl_words(description, target, ctx)
        findings.append(finding(target, category, o, what, action, property="accesses", in_bigquery=description))
    for description in missing:
        if _who(description) in changed_who:
            continue
        o = origin(description, False)
        if o == "files":
            not_applied("add an ACL entry", description, in_files=description)
            continue
        findings.append(finding(
            target, "acl_entry_removed", o, f"an ACL entry of the files was removed outside the code ({description})",
            f"Re-apply to put it back, or, if the removal was intended, take the member out of its role in "
            f"{ctx.stack_file} (or the grant out of roles/).", property="accesses", in_files=description))
    return findings


def _extra_acl_words(description: str, target: Target, ctx: Context) -> tuple[str, str, str]:
    """(category, what, action) of an ACL entry that is in BigQuery and not in the files."""
    role, _, who = description.partition(" ")
    if "deleted:" in who:
        return ("acl_deleted_principal", f"an ACL entry names an account that was deleted ({description})",
                f"Re-apply to remove it; if the account is listed under warehouse:members in {ctx.stack_file}, "
                "remove it there too.")
    what = f"an ACL entry was added outside the code ({description})"
    if who.startswith(("user:", "domain:")) and role in ("WRITER", "OWNER"):
        return ("acl_entry_added", what,
                f"Re-apply to remove it. To keep the access, add {who.split(':', 1)[1]} to a group that a role grants "
                f"{role} on {target.subject} (individuals and domains are never WRITER or OWNER in the files).")
    if who.startswith(("user:", "group:", "serviceAccount:", "domain:")):
        return ("acl_entry_added", what,
                f"Re-apply to remove it, or add the principal to a role in the files "
                f"(warehouse:members in {ctx.stack_file}).")
    return ("acl_entry_added", what, "Re-apply to remove it; an authorization belongs in the files (a view that "
                                     "reads the dataset authorizes its dataset).")
