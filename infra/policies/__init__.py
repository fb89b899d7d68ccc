"""Security rules as code: the same functions run offline (`check --policy`) and in Pulumi's
CrossGuard policy pack (`policy/`, `pulumi preview --policy-pack policy`).

Each rule lives in a module of its own and works on `Resource`s: the type token, URN, name,
`protect` option and the properties exactly as the engine sends them (camelCase), which is what
both the offline plan and the policy pack hand over. `RULES` lists them all.
"""

from infra.policies.backup_coverage import RULE as BACKUP_COVERAGE
from infra.policies.base import Resource, Rule, Settings, Violation
from infra.policies.forbidden_iam import RULE as FORBIDDEN_IAM
from infra.policies.individual_writers import RULE as INDIVIDUAL_WRITERS
from infra.policies.job_permissions import RULE as JOB_PERMISSIONS
from infra.policies.lowercase_emails import RULE as LOWERCASE_EMAILS
from infra.policies.project_owners import RULE as PROJECT_OWNERS
from infra.policies.project_roles import RULE as PROJECT_ROLES
from infra.policies.protected_stateful import RULE as PROTECTED_STATEFUL
from infra.policies.public_access import RULE as PUBLIC_ACCESS
from infra.policies.read_only_confinement import RULE as READ_ONLY_CONFINEMENT
from infra.policies.scheduled_query_settings import RULE as SCHEDULED_QUERY_SETTINGS
from infra.policies.scheduled_writes_keep_schema import RULE as SCHEDULED_WRITES_KEEP_SCHEMA
from infra.policies.standard_sql_views import RULE as STANDARD_SQL_VIEWS
from infra.policies.writer_domains import RULE as WRITER_DOMAINS

RULES: tuple[Rule, ...] = (
    PUBLIC_ACCESS, INDIVIDUAL_WRITERS, WRITER_DOMAINS, FORBIDDEN_IAM, PROJECT_OWNERS, READ_ONLY_CONFINEMENT,
    PROJECT_ROLES, STANDARD_SQL_VIEWS, SCHEDULED_QUERY_SETTINGS, SCHEDULED_WRITES_KEEP_SCHEMA, PROTECTED_STATEFUL,
    BACKUP_COVERAGE, LOWERCASE_EMAILS, JOB_PERMISSIONS,
)

__all__ = ["RULES", "Resource", "Rule", "Settings", "Violation"]
