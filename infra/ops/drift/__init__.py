"""The drift review: what changed in BigQuery behind the code's back, from `pulumi preview --refresh --json`.

`preview.py` reads the document, `findings.py` says what each difference means and what to do,
`report.py` builds and writes the report. The command is `infra.cli.drift`.
"""
