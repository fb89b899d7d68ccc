"""Declarations: the files people edit, read into typed specs with the line of every key.

One module per kind of file: `stack` (Pulumi.<stack>.yaml), `datasets` (datasets/*.yaml and
datasets/sources/*.yaml), `roles` (roles/*.yaml, with `principals` for who is granted), `queries`
(scheduled_queries/<layer>/<folder>/<name>.yaml + .sql, with `columns` for table schemas and
`schedule` for the schedule grammar) and `backups` (backups/policies, coverage.yaml,
one_off_copies.yaml). `files` reads YAML keeping line numbers; `keys` checks a mapping's keys
against a schema. Every problem is collected as `file:line: key: what; fix: how`.

Deliberately not here: rules that need several files or the stack at once (`infra.model.load`)
and the SQL rules (`infra.checks`).
"""
