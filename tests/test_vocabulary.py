"""One vocabulary: an ACL entry reads the same everywhere, and each shared word and pattern has
one definition (infra/vocabulary.py)."""

from __future__ import annotations

import re

import pytest

from infra.declarations.principals import Principal
from infra.model.warehouse import AccessEntry
from infra.ops.unmanaged import declared_key, describe_key
from infra.vocabulary import LABEL_KEY, LABEL_VALUE, LOCATION, RESERVED_LABELS, acl_entry_text
from tests.conftest import ROOT

SA = "wh-query-runner@acme-warehouse-prod.iam.gserviceaccount.com"


@pytest.mark.parametrize(("entry", "text"), [
    ({"role": "OWNER", "specialGroup": "projectOwners"}, "OWNER specialGroup:projectOwners"),
    ({"role": "READER", "groupByEmail": "Data-Readers@acme.com"}, "READER group:data-readers@acme.com"),
    ({"role": "WRITER", "userByEmail": SA}, f"WRITER serviceAccount:{SA}"),
    ({"role": "OWNER", "userByEmail": "ana@acme.com"}, "OWNER user:ana@acme.com"),
    ({"role": "READER", "userByEmail": "deleted:user:bob@acme.com?uid=1"}, "READER deleted:user:bob@acme.com?uid=1"),
    ({"role": "READER", "domain": "acme.com"}, "READER domain:acme.com"),
    ({"role": "READER", "iamMember": "allUsers"}, "READER allUsers"),
    ({"dataset": {"dataset": {"projectId": "p", "datasetId": "d"}, "targetTypes": ["VIEWS"]}}, "views of dataset p.d"),
    ({"dataset": [{"dataset": [{"projectId": "p", "datasetId": "d"}], "targetTypes": ["VIEWS"]}]},
     "views of dataset p.d"),  # as a provider's state nests it
    ({"view": {"projectId": "p", "datasetId": "d", "tableId": "t"}}, "view p.d.t"),
    ({"routine": {"projectId": "p", "datasetId": "d", "routineId": "r"}}, "routine p.d.r"),
    ({"something": "new"}, '{"something": "new"}'),
])
def test_acl_entry_text(entry, text):
    assert acl_entry_text(entry) == text


def test_the_model_the_plan_and_the_unmanaged_scan_say_the_same():
    entries = [AccessEntry("READER", Principal("group", "data-readers@acme.com")),
               AccessEntry("WRITER", Principal("serviceAccount", SA)),
               AccessEntry("OWNER", special_group="projectOwners"),
               AccessEntry(None, authorized_dataset=("p", "production_reporting"))]
    for entry in entries:
        # the plan's form: the pulumi-gcp arguments, camelCased as the SDK sends them
        args = entry.as_args()
        camel = {_camel(k): ({_camel(k2): v2 for k2, v2 in v.items()} if isinstance(v, dict) else v)
                 for k, v in args.items()}
        if "dataset" in camel:
            camel["dataset"]["dataset"] = {_camel(k): v for k, v in camel["dataset"]["dataset"].items()}
        assert describe_key(declared_key(entry)) == acl_entry_text(camel)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_patterns():
    assert LABEL_KEY.match("managed-by") and not LABEL_KEY.match("1abc") and not LABEL_KEY.match("Team")
    assert LABEL_VALUE.match("") and LABEL_VALUE.match("x" * 63) and not LABEL_VALUE.match("x" * 64)
    assert all(LOCATION.match(x) for x in ("US", "EU", "europe-west1", "us-central1"))
    assert not any(LOCATION.match(x) for x in ("us", "Europe", "europe-west"))
    assert {"environment", "layer", "managed-by", "sync-tool", "backup", "folder"} == set(RESERVED_LABELS)


@pytest.mark.parametrize("pattern", [LABEL_KEY.pattern, LABEL_VALUE.pattern, LOCATION.pattern])
def test_each_pattern_is_written_once(pattern):
    where = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "infra").rglob("*.py"))
             if pattern in p.read_text(encoding="utf-8")]
    assert where == ["infra/vocabulary.py"]


def test_reserved_labels_are_listed_once():
    listing = re.compile(r'"environment",\s*"layer",\s*"managed-by"')
    where = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "infra").rglob("*.py"))
             if listing.search(p.read_text(encoding="utf-8"))]
    assert where == ["infra/vocabulary.py"]
