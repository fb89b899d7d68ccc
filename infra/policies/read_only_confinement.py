"""What a read-only service account can actually read: its own dataset, and what the views there
show, and never another such account's data.

A read-only service account is one the plan makes READER of a dataset and never WRITER or OWNER:
a sync tool (Census, Airflow, Customer.io), a BI tool (Tableau). Found by what the plan grants,
not by its name, so renaming one changes nothing. For each, what it can reach:

- the datasets whose ACL makes it READER (its own);
- through views: a view in a dataset it reads runs with its dataset's authorization, so it shows
  whatever it selects from a dataset that authorizes the view's dataset; and so on, transitively.

It must read exactly one dataset directly, and reach no dataset that another read-only service
account reads directly (its own data). A view in the census dataset reading customer_io, or a
census account granted on every dataset, is a violation naming the view or the dataset that opens
the way, and the fix. When it reads several datasets, its own is the one nobody else reads but
writers; the violation names the others (or all of them, when that does not tell).
"""

from __future__ import annotations

import re
from collections import deque

from infra.policies.base import Resource, Rule, Settings, accesses
from infra.vocabulary import DATASET_TYPE, TABLE_TYPE

_TABLE = re.compile(r"`([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z_][A-Za-z0-9_$]*`")


def _dataset_key(r: Resource) -> str:
    return f"{r.props.get('project')}.{r.props.get('datasetId')}"


def check(resources: list[Resource], settings: Settings):
    datasets = {_dataset_key(r): r for r in resources if r.type == DATASET_TYPE}
    readers: dict[str, set[str]] = {}  # account -> datasets it reads directly
    writers: set[str] = set()
    plain_readers: dict[str, set[str]] = {}  # dataset -> every principal that is READER of it
    authorizes: dict[str, set[str]] = {}  # dataset -> datasets whose views it lets read it
    for key, r in datasets.items():
        for e in accesses(r):
            email = str(e.get("userByEmail") or "").lower()
            who = email or str(e.get("groupByEmail") or e.get("domain") or e.get("specialGroup") or "").lower()
            if who and e.get("role") == "READER":
                plain_readers.setdefault(key, set()).add(who)
            if email.endswith(".gserviceaccount.com"):
                if e.get("role") == "READER":
                    readers.setdefault(email, set()).add(key)
                elif e.get("role") in ("WRITER", "OWNER"):
                    writers.add(email)
            inner = (e.get("dataset") or {}).get("dataset") or {}
            if inner:
                authorizes.setdefault(key, set()).add(f"{inner.get('projectId')}.{inner.get('datasetId')}")
    views: dict[str, list[tuple[str, set[str]]]] = {}  # dataset -> (view urn, datasets it reads)
    for r in resources:
        query = ((r.props.get("view") or {}) if r.type == TABLE_TYPE else {}).get("query")
        if query:
            read = {f"{p}.{d}" for p, d in _TABLE.findall(str(query))}
            views.setdefault(_dataset_key(r), []).append((r.urn, read))
    confined = {a: direct for a, direct in readers.items() if a not in writers}
    # Its own dataset: the one it reads; of several, the one nobody else reads but writers.
    own_of = {}
    for account, direct in confined.items():
        private = {k for k in direct if plain_readers.get(k, set()) - writers <= {account}}
        own_of[account] = direct if len(direct) == 1 else (private if len(private) == 1 else set())
    home_of = {key: account for account, own in own_of.items() for key in own}
    for account, own in sorted(confined.items()):
        if len(own) > 1:
            blamed = own - own_of[account] if own_of[account] else own
            for key in sorted(blamed):
                yield (datasets[key].urn,
                       f"the read-only service account {account} reads {len(own)} datasets directly "
                       f"({', '.join(sorted(own))}): such an account reads one dataset, its own",
                       "grant it READER on its own dataset only (its role in roles/), and expose what else it "
                       "needs through views in that dataset")
            continue
        for reached, via in _reach(own, views, authorizes):
            other = home_of.get(reached)
            if other is not None and other != account:
                yield (via, f"{account} reads the data of {reached}, the own dataset of {other}, through this view "
                            "(its dataset is authorized on it)",
                       f"do not read {reached} in a view of a dataset {account} reads; read a mart instead")


def _reach(own: set[str], views: dict, authorizes: dict) -> list[tuple[str, str]]:
    """(dataset, the view it is reached through) for every dataset readable through views."""
    seen = set(own)
    out = []
    todo = deque(own)
    while todo:
        current = todo.popleft()
        for urn, read in views.get(current, []):
            for target in sorted(read):
                if target not in seen and current in authorizes.get(target, set()):
                    seen.add(target)
                    out.append((target, urn))
                    todo.append(target)
    return out


RULE = Rule("read-only-accounts-confined",
            "A read-only service account reads its own dataset and what its views show, never another's data.",
            check_stack=check)
