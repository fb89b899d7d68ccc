"""The warehouse's shared vocabulary: each word and pattern defined once, used by every layer.

- Labels: the ones the program always sets (`RESERVED_LABELS`, never written in the files) and
  the patterns BigQuery accepts for a label's key and value.
- Locations: the pattern of a BigQuery location (a multi-region or a region).
- Resource types: the type tokens of what the program declares, as the engine names them.
- ACL entries: `acl_entry_text` renders one dataset access entry the way people write
  principals (`WRITER group:analysts@acme.com`), for the plan tree, the plan diff, the drift
  review, the unmanaged scan and the security rules alike.

Deliberately not here: anything that reads files or makes resources; words that only one module
uses stay in that module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# --- labels -------------------------------------------------------------------------------------------

MANAGED_BY = "pulumi"  # the value of the `managed-by` label on everything this project makes
# Labels the program sets itself, so the files may not: on datasets `environment`, `layer`,
# `managed-by`, `sync-tool` (a sync dataset's tool; the sync rules read it) and `backup`
# (`exempt`, from backups/coverage.yaml); on tables and views also `folder` (their folder under
# scheduled_queries/).
RESERVED_LABELS = ("environment", "layer", "managed-by", "sync-tool", "backup", "folder")
# BigQuery's label rules: keys start with a letter; keys and values are lower-case letters,
# digits, `_` and `-`, at most 63 characters.
# The layers of the datasets the backup system makes: the snapshot datasets (`backup`) and the
# disaster-recovery copies (`dr`). Declared datasets are never of these layers.
BACKUP_LAYERS = ("backup", "dr")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")

# --- locations ----------------------------------------------------------------------------------------

# A BigQuery location: the multi-regions US and EU, or a region such as europe-west1.
LOCATION = re.compile(r"^(US|EU|[a-z]+-[a-z]+[0-9]+)$")
LOCATION_HELP = "use US, EU or a region such as europe-west1"

# A GCP project id (the stack's, a raw source's): 6-30 lower-case letters, digits and hyphens.
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
PROJECT_ID_HELP = "use the project id (6-30 lower-case letters, digits and hyphens), not its name or number"

# --- resource types -----------------------------------------------------------------------------------

# The type tokens the engine, the offline plan and a preview's JSON give these resources.
STACK_TYPE = "pulumi:pulumi:Stack"
DATASET_TYPE = "gcp:bigquery/dataset:Dataset"
TABLE_TYPE = "gcp:bigquery/table:Table"  # tables and views alike
ROUTINE_TYPE = "gcp:bigquery/routine:Routine"  # functions and table functions
TRANSFER_TYPE = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
PROJECT_IAM_MEMBER_TYPE = "gcp:projects/iAMMember:IAMMember"
SERVICE_ACCOUNT_TYPE = "gcp:serviceaccount/account:Account"
TOPIC_TYPE = "gcp:pubsub/topic:Topic"

# --- ACL entries --------------------------------------------------------------------------------------


def member_slug(member: str) -> str:
    """The part of a project IAM member's logical name that names its member: readable, but not
    one-to-one (`user:a+b@x.com` and `user:a-b@x.com` both give `user-a-b-x.com`), so the model
    refuses two members of one role that give the same (`infra/model/integrity.py`)."""
    return re.sub(r"[^a-zA-Z0-9._-]+", "-", member)


def _one(value: Any) -> Any:
    """A nested object, whether given as itself or (as in a provider's state) as a one-item list."""
    return value[0] if isinstance(value, list) and value else value


def acl_entry_text(entry: Mapping[str, Any]) -> str:
    """One dataset access entry, in BigQuery's API form (camelCase, as the engine, the plan and
    the BigQuery API all give it), as people write it:

        OWNER specialGroup:projectOwners      READER group:analysts@acme.com
        WRITER serviceAccount:x@p.iam.gserviceaccount.com      READER user:ana@acme.com
        views of dataset acme-prod.production_reporting        view p.d.t      routine p.d.r

    E-mails are lower-cased (BigQuery stores them so); a deleted principal keeps its
    `deleted:...` form; an entry of no known kind is shown as its JSON."""
    role = str(entry.get("role") or "").strip()
    who = ""
    if entry.get("specialGroup"):
        who = f"specialGroup:{entry['specialGroup']}"
    elif entry.get("groupByEmail"):
        who = f"group:{str(entry['groupByEmail']).lower()}"
    elif entry.get("userByEmail"):
        email = str(entry["userByEmail"]).lower()
        kind = "serviceAccount:" if email.endswith(".gserviceaccount.com") else "user:"
        who = email if email.startswith("deleted:") else kind + email
    elif entry.get("domain"):
        who = f"domain:{str(entry['domain']).lower()}"
    elif entry.get("iamMember"):
        who = str(entry["iamMember"])
    elif _one(entry.get("view")):
        v = _one(entry["view"])
        who = f"view {v.get('projectId')}.{v.get('datasetId')}.{v.get('tableId')}"
    elif _one(entry.get("dataset")):
        d = _one(_one(entry["dataset"]).get("dataset")) or {}
        who = f"views of dataset {d.get('projectId')}.{d.get('datasetId')}"
    elif _one(entry.get("routine")):
        r = _one(entry["routine"])
        who = f"routine {r.get('projectId')}.{r.get('datasetId')}.{r.get('routineId')}"
    return f"{role} {who}".strip() or json.dumps(dict(entry), sort_keys=True)

