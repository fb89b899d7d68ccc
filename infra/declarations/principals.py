"""Principals (who is granted something), parsed once from `kind:identifier` strings.

A principal is written the way IAM writes members: `group:analysts@acme.com`,
`serviceAccount:census@acme-prod.iam.gserviceaccount.com`, `user:ana@acme.com`,
`domain:acme.com`. Parsing rejects what has broken other setups (see PITFALLS.md): upper-case
e-mails (they diff forever or fail), public principals (`allUsers`, `allAuthenticatedUsers`),
and service-account e-mails outside `gserviceaccount.com`.

The same principal becomes an IAM member string (`member`) for project roles and a dataset ACL
entry (`acl_entry`) with the field BigQuery answers with (userByEmail for users and service
accounts, groupByEmail, domain), so a refresh shows no spurious diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("group", "serviceAccount", "user", "domain")
_PUBLIC = {"allusers", "allauthenticatedusers"}
_EMAIL = re.compile(r"^[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(\.[a-z0-9-]+)+$")
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
FORMAT_HELP = ("write `group:name@example.com`, `serviceAccount:name@project.iam.gserviceaccount.com`, "
               "`user:name@example.com` or `domain:example.com`")


class PrincipalError(ValueError):
    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.what = what
        self.fix = fix


@dataclass(frozen=True, order=True)
class Principal:
    kind: str
    identifier: str

    @property
    def member(self) -> str:
        """The IAM member string, e.g. for `gcp.projects.IAMMember`."""
        return f"{self.kind}:{self.identifier}"

    def acl_entry(self) -> dict[str, str]:
        """The identity fields of a BigQuery dataset access entry (snake_case, pulumi-gcp)."""
        if self.kind == "group":
            return {"group_by_email": self.identifier}
        if self.kind == "domain":
            return {"domain": self.identifier}
        return {"user_by_email": self.identifier}

    def __str__(self) -> str:
        return self.member


def parse_principal(text: object) -> Principal:
    """Parse one principal; raise `PrincipalError(what, fix)` when it is not acceptable."""
    if not isinstance(text, str):
        raise PrincipalError(f"principal must be text, got {text!r}", FORMAT_HELP)
    raw = text.strip()
    if raw.lower().split(":")[-1] in _PUBLIC or raw.lower().startswith(("specialgroup:all", "iammember:all")):
        raise PrincipalError(f"public principal {raw!r} is never allowed",
                             "grant a group of named people instead")
    if ":" not in raw:
        raise PrincipalError(f"malformed principal {raw!r} (no `kind:` prefix)", FORMAT_HELP)
    kind, _, ident = raw.partition(":")
    if kind not in KINDS:
        close = [k for k in KINDS if k.lower() == kind.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PrincipalError(f"malformed principal {raw!r}: unknown kind {kind!r}{hint}", FORMAT_HELP)
    if ident != ident.lower():
        raise PrincipalError(f"principal {raw!r} has upper-case letters (BigQuery stores e-mails "
                             "lower-case, so it would show as drift forever)",
                             f"write it as `{kind}:{ident.lower()}`")
    if kind == "domain":
        if not _DOMAIN.match(ident):
            raise PrincipalError(f"malformed domain in {raw!r}", "write `domain:example.com`")
        if ident in {"gmail.com", "googlemail.com"}:
            raise PrincipalError(f"public domain {ident!r} would grant every account on it",
                                 "grant a group of named people instead")
        return Principal(kind, ident)
    if not _EMAIL.match(ident):
        raise PrincipalError(f"malformed e-mail in principal {raw!r}", FORMAT_HELP)
    if kind == "serviceAccount" and not ident.endswith(".gserviceaccount.com"):
        raise PrincipalError(f"{raw!r} is not a service-account e-mail",
                             "service accounts end in `.gserviceaccount.com`; use `group:` or `user:` for people")
    if kind != "serviceAccount" and ident.endswith(".gserviceaccount.com"):
        raise PrincipalError(f"{raw!r} is a service account written as {kind}:",
                             f"write it as `serviceAccount:{ident}`")
    return Principal(kind, ident)
