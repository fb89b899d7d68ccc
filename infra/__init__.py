"""Warehouse as code: the company's BigQuery warehouse declared in YAML and SQL, built with Pulumi.

`infra/` is both the Pulumi program (`main: infra/` in Pulumi.yaml; see `__main__.py`) and the
command-line interface (`python -m infra`, installed as `warehouse`; see `cli.py`).
"""

__version__ = "0.1.0"
