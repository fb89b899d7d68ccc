"""Cross-checks of a resolved stack that no single file can make, each a problem line before
anything is registered:

- two members of one role whose project grants would get one resource name (the name is made
  readable, not one-to-one: `vocabulary.member_slug`), and the same project role twice;
- two roles that would create the same service account (one identity with both roles' access:
  the query runner able to write backups);
- datasets whose views read each other: each one's ACL must name the other, so neither can be
  created first, and the program would recurse ordering them;
- one-off copies of nothing: a source that no query builds, a view, or a destination that is
  the source itself.

Deliberately not here: checks of one file (the loaders) and of security behaviour (`policies/`).
"""

from __future__ import annotations

from collections.abc import Mapping

from infra.declarations.backups import COPIES_FILE, OneOffCopySpec
from infra.declarations.queries import QuerySpec
from infra.declarations.stack import NAMESPACE, StackConfig
from infra.model.warehouse import Role
from infra.problems import Problems
from infra.vocabulary import member_slug


def check_resource_names(roles: tuple[Role, ...], stack: StackConfig, problems: Problems) -> None:
    for role in roles:
        seen: dict[str, str] = {}
        for principal in role.members:
            slug = member_slug(principal.member)
            if slug in seen and seen[slug] != principal.member:
                problems.add(stack.file, None, f"{NAMESPACE}:members.{role.name}",
                             f"{principal.member} and {seen[slug]} would give their project grants the same resource "
                             f"name ({role.name}-<role>-{slug})", "list one of them through a group instead")
            seen.setdefault(slug, principal.member)


def check_accounts(roles: tuple[Role, ...], problems: Problems) -> None:
    by_account: dict[str, Role] = {}
    for role in roles:
        sa = role.service_account
        if sa is None:
            continue
        other = by_account.get(sa.email)
        if other is not None:
            problems.add(role.spec.file, None, "service_account.account_id",
                         f"{sa.account_id!r} is also the account of {other.spec.file}: one identity would hold both "
                         "roles' access", "give each role its own account id")
        else:
            by_account[sa.email] = role


def check_authorization_cycles(authorizations: Mapping[str, set[str]], views: tuple[QuerySpec, ...],
                               problems: Problems) -> list[list[str]]:
    """The cycles of `authorizations` (dataset -> datasets whose views read it), each reported once
    on a view that closes it; returned so the caller can drop them."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(authorizations.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(authorizations):
        if node not in state:
            visit(node)
    for cycle in cycles:
        reader = next((v for v in views if v.is_view and v.dataset == cycle[1]), None)
        problems.add(reader.file if reader else "scheduled_queries", None, "dataset",
                     f"views read across datasets in a cycle ({' -> '.join(cycle)}): each dataset's ACL would "
                     "have to name the next, and none can be created first",
                     "move the views that read back into a dataset of their own")
    return cycles


def check_copies(copies: tuple[OneOffCopySpec, ...], queries: tuple[QuerySpec, ...], problems: Problems,
                 unloaded: set[str] = frozenset()) -> None:
    """`unloaded`: names of query files that failed to load (already reported)."""
    built = {q.key: q for q in queries}
    for copy in copies:
        if copy.source.partition(".")[2] in unloaded:
            continue
        key = f"copies.{copy.name}"
        source = built.get(copy.source)
        if copy.source == copy.destination:
            problems.add(COPIES_FILE, copy.line, key, "copies a table onto itself", "copy into a backup dataset")
        elif source is None:
            problems.add(COPIES_FILE, copy.line, key, f"no query builds {copy.source!r}: the copy would have no "
                                                      "source", "copy a table that a scheduled query builds")
        elif source.is_view:
            problems.add(COPIES_FILE, copy.line, key, f"{copy.source} is a view: it holds no data to copy",
                         "copy the table it reads")
