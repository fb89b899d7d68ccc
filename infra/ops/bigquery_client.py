"""One way to get a google-cloud-bigquery client: the project's, or a local emulator's.

Used by the commands that talk to BigQuery itself (`restore`, `backups list`, `drift --unmanaged`)
and by the emulator. Missing or unusable credentials become one `CredentialsProblem` whose text
says what is wrong and how to fix it, so each command prints it as its one line.
"""

from __future__ import annotations

from typing import Any


class CredentialsProblem(Exception):
    """No usable Google Cloud credentials; `str()` is `what; fix: how`."""


def one_line(exc: BaseException) -> str:
    return " ".join((getattr(exc, "message", None) or str(exc) or type(exc).__name__).split())


def connect(project: str, emulator_url: str | None = None) -> Any:
    """A client for `project`: against the emulator at `emulator_url` (anonymous credentials,
    which it does not check), or against BigQuery with Application Default Credentials."""
    from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError
    from google.cloud import bigquery

    if emulator_url:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=emulator_url))
    try:
        return bigquery.Client(project=project)
    except DefaultCredentialsError:
        raise CredentialsProblem(
            f"no Google Cloud credentials found for project {project}; fix: run "
            "`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service-account key file (in CI: google-github-actions/auth)") from None
    except GoogleAuthError as exc:
        raise CredentialsProblem(f"the Google Cloud credentials could not be used: {one_line(exc)}; "
                                 "fix: run `gcloud auth application-default login` again") from None
