"""Backup coverage: for every dataset and table of a stack, what protects it and how far back.

Read by `backups coverage`. For each managed dataset (backup datasets aside) and each table a
query builds in it, it lists the policies that cover it and its recovery points:
- time travel: any moment in the dataset's window (2 to 7 days), while the table exists;
- snapshots: one per run of each snapshot policy (its schedule is the cadence), kept for the
  policy's retention; views are not snapshotted (they are rebuilt from the files);
- cross-region copy: the latest run's state, in another region.
An exempt dataset shows its written reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.model.warehouse import Warehouse
from infra.vocabulary import BACKUP_LAYERS


@dataclass(frozen=True)
class CoverageRow:
    dataset: str
    table: str | None  # None for the dataset's own row
    kind: str  # dataset, table, view
    policies: tuple[str, ...]
    recovery: str
    retention: str
    exempt: str | None = None

    @property
    def covered(self) -> bool:
        return bool(self.policies) or self.exempt is not None


def coverage_rows(warehouse: Warehouse) -> list[CoverageRow]:
    backups = warehouse.backups
    rows = []
    for d in warehouse.datasets:
        if d.layer in BACKUP_LAYERS:
            continue
        policies = backups.policies_of(d.name) if backups else ()
        exempt = backups.exemption_of(d.name) if backups else None
        travel = f"time travel {d.spec.time_travel_days} d"
        points = [travel]
        for p in policies:
            if p.kind == "snapshot":
                points.append(f"{p.name}: {p.schedule.text} UTC")
            else:
                points.append(f"copy to {p.destination_location}: {p.schedule.text} UTC")
        retention = ", ".join(f"{p.name} {p.retention_days} d" for p in policies if p.kind == "snapshot") or "-"
        names = tuple(p.name for p in policies)
        rows.append(CoverageRow(d.name, None, "dataset", names, "; ".join(points), retention, exempt))
        for q in sorted((q for q in warehouse.queries if q.spec.dataset == d.name), key=lambda q: q.spec.name):
            if q.spec.is_view:
                rows.append(CoverageRow(d.name, q.spec.name, "view", (), "rebuilt from its SQL by pulumi up", "-",
                                        exempt))
            else:
                rows.append(CoverageRow(d.name, q.spec.name, "table", names, "; ".join(points), retention, exempt))
    return rows


def render_coverage(warehouse: Warehouse, rows: list[CoverageRow]) -> str:
    lines = [f"Backup coverage of stack {warehouse.stack.stack!r} "
             f"({'protected' if warehouse.stack.protect else 'not protected'}):"]
    by_id = {d.name: d.dataset_id for d in warehouse.datasets}
    for row in rows:
        if row.table is None:
            status = (f"EXEMPT: {row.exempt}" if row.exempt else
                      f"policies: {', '.join(row.policies)}" if row.policies else "NOT COVERED")
            lines.append(f"{by_id[row.dataset]}  [{status}]")
            lines.append(f"    recovery points: {row.recovery}")
            lines.append(f"    retention: {row.retention}")
        else:
            protection = (row.recovery if row.kind == "view"
                          else ", ".join(row.policies) or ("exempt" if row.exempt else "none"))
            lines.append(f"    {row.kind:<5} {row.table:<34} {protection}")
    uncovered = [r.dataset for r in rows if r.table is None and not r.covered]
    lines.append("")
    lines.append(f"{sum(1 for r in rows if r.table is None)} datasets, "
                 f"{sum(1 for r in rows if r.kind == 'table')} tables; "
                 + (f"not covered: {', '.join(uncovered)}" if uncovered else "every dataset covered or exempted."))
    return "\n".join(lines)
