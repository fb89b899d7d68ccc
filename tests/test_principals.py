"""Principal parsing: what is accepted, and the reason and fix for what is not."""

from __future__ import annotations

import pytest

from infra.declarations.principals import PrincipalError, parse_principal


@pytest.mark.parametrize("text, kind, acl", [
    ("group:analysts@acme.com", "group", {"group_by_email": "analysts@acme.com"}),
    ("user:ana@acme.com", "user", {"user_by_email": "ana@acme.com"}),
    ("serviceAccount:census@acme-prod.iam.gserviceaccount.com", "serviceAccount",
     {"user_by_email": "census@acme-prod.iam.gserviceaccount.com"}),
    ("domain:acme.com", "domain", {"domain": "acme.com"}),
])
def test_accepted(text, kind, acl):
    p = parse_principal(text)
    assert p.kind == kind and p.member == text and p.acl_entry() == acl


@pytest.mark.parametrize("text, what", [
    ("analysts@acme.com", "no `kind:` prefix"),
    ("Group:analysts@acme.com", "did you mean 'group'"),
    ("group:Analysts@acme.com", "upper-case"),
    ("allUsers", "public principal"),
    ("allAuthenticatedUsers", "public principal"),
    ("specialGroup:allAuthenticatedUsers", "public principal"),
    ("domain:gmail.com", "public domain"),
    ("group:analysts", "malformed e-mail"),
    ("serviceAccount:bob@acme.com", "not a service-account e-mail"),
    ("user:runner@acme.iam.gserviceaccount.com", "service account written as user"),
    (42, "must be text"),
])
def test_rejected_with_reason_and_fix(text, what):
    with pytest.raises(PrincipalError) as caught:
        parse_principal(text)
    assert what in caught.value.what
    assert caught.value.fix


def test_uppercase_fix_gives_the_lowercase_spelling():
    with pytest.raises(PrincipalError) as caught:
        parse_principal("group:Data@Acme.com")
    assert "`group:data@acme.com`" in caught.value.fix
