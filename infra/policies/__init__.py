"""Security rules as code: the same functions run offline (`check --policy`) and in Pulumi's
CrossGuard policy pack (`policy/`, `pulumi preview --policy-pack policy`).

Each rule lives in a module of its own and works on `Resource`s: the type token, URN, name,
`protect` option and the properties exactly as the engine sends them (camelCase), which is what
both the offline plan and the policy pack hand over. `RULES` lists them all.
"""

from .base import Resource, Rule, Settings, Violation
from .backup_coverage import RULE as BACKUP_COVERAGE
from .forbidden_iam import RULE as FORBIDDEN_IAM
from .individual_writers import RULE as INDIVIDUAL_WRITERS
from .lowercase_emails import RULE as LOWERCASE_EMAILS
from .project_owners import RULE as PROJECT_OWNERS
from .project_roles import RULE as PROJECT_ROLES
from .protected_stateful import RULE as PROTECTED_STATEFUL
from .public_access import RULE as PUBLIC_ACCESS
from .scheduled_query_settings import RULE as SCHEDULED_QUERY_SETTINGS
from .standard_sql_views import RULE as STANDARD_SQL_VIEWS
from .sync_confinement import RULE as SYNC_CONFINEMENT

RULES: tuple[Rule, ...] = (
    PUBLIC_ACCESS, INDIVIDUAL_WRITERS, FORBIDDEN_IAM, PROJECT_OWNERS, SYNC_CONFINEMENT, PROJECT_ROLES,
    STANDARD_SQL_VIEWS, SCHEDULED_QUERY_SETTINGS, PROTECTED_STATEFUL, BACKUP_COVERAGE, LOWERCASE_EMAILS,
)

__all__ = ["RULES", "Resource", "Rule", "Settings", "Violation"]
