"""Pausing and resuming the scheduled query that builds a table, around an in-place restore.

A scheduled run during an in-place restore would rebuild the table under it, and the next one
overwrites the restored rows. So `restore --in-place` pauses the table's Data Transfer Service
config (`disabled: true`: no runs are scheduled while it is set) for the restore, and resumes it
afterwards unless asked to keep it paused. The config is found by its display name,
`<layer>/<folder>/<table>` (`ResolvedQuery.transfer_display_name`), in the dataset's location.

`Transfers` is what the restore needs; `DataTransferControl` implements it with
google-cloud-bigquery-datatransfer, and tests use their own.

Deliberately not here: snapshot policies and cross-region copies (they only read the table).
"""

from __future__ import annotations

from typing import Any, Protocol


class Transfers(Protocol):
    def find(self, project: str, location: str, display_name: str) -> str | None:
        """The resource name of the scheduled query with this display name, if there is one."""

    def busy(self, name: str) -> bool:
        """Whether a run of the config is pending or running."""

    def pause(self, name: str) -> None: ...

    def resume(self, name: str) -> None: ...


class DataTransferControl:
    """`Transfers` through the Data Transfer Service API (Application Default Credentials)."""

    def __init__(self, client: Any = None):
        if client is None:
            from google.cloud import bigquery_datatransfer

            client = bigquery_datatransfer.DataTransferServiceClient()
        self.client = client

    def find(self, project: str, location: str, display_name: str) -> str | None:
        parent = f"projects/{project}/locations/{location}"
        for config in self.client.list_transfer_configs(request={"parent": parent,
                                                                 "data_source_ids": ["scheduled_query"]}):
            if config.display_name == display_name:
                return config.name
        return None

    def busy(self, name: str) -> bool:
        from google.cloud import bigquery_datatransfer

        states = [bigquery_datatransfer.TransferState.PENDING, bigquery_datatransfer.TransferState.RUNNING]
        runs = self.client.list_transfer_runs(request={"parent": name, "states": states})
        return any(True for _ in runs)

    def pause(self, name: str) -> None:
        self._set_disabled(name, True)

    def resume(self, name: str) -> None:
        self._set_disabled(name, False)

    def _set_disabled(self, name: str, disabled: bool) -> None:
        from google.cloud import bigquery_datatransfer
        from google.protobuf import field_mask_pb2

        config = bigquery_datatransfer.TransferConfig(name=name, disabled=disabled)
        self.client.update_transfer_config(request={"transfer_config": config,
                                                    "update_mask": field_mask_pb2.FieldMask(paths=["disabled"])})
