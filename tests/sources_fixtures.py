"""Realistic raw sources and queries for the source tests: a GA4 export (a family of daily
shards in a vendor project), a GA360 export (a dataset named by a numeric view id) and the
queries a warehouse writes on them. Written into a scratch copy of the project."""

from __future__ import annotations

from pathlib import Path

GA4 = """description: Google Analytics 4 export of the marketing site, one table per day (events_YYYYMMDD).
loader: ga4-export
dataset_id: analytics_308114925
project: acme-marketing-ga
readers: [runner, backup]
tables:
  events_*:
    description: Every GA4 event of one day; the family of the daily shards.
    columns:
      - {name: event_date, type: STRING, mode: REQUIRED, description: "The day, as YYYYMMDD."}
      - {name: event_timestamp, type: INT64, mode: REQUIRED, description: "When it happened (microseconds, UTC)."}
      - {name: event_name, type: STRING, mode: REQUIRED, description: "page_view, sign_up, ..."}
      - {name: user_pseudo_id, type: STRING, description: The device's pseudonymous id.}
      - {name: user_id, type: STRING, description: Backend user id once signed in.}
      - {name: platform, type: STRING, description: "WEB, IOS or ANDROID."}
      - {name: geo_country, type: STRING, description: Country from the IP address.}
"""

GA360 = """description: GA360 export of the legacy app property, one table per day (ga_sessions_YYYYMMDD).
loader: ga360-export
dataset_id: '123456789'
readers: [runner, backup]
tables:
  ga_sessions_*:
    description: One row per session of one day; the family of the daily shards.
    columns:
      - {name: fullVisitorId, type: STRING, mode: REQUIRED, description: The visitor's id.}
      - {name: visitId, type: INT64, mode: REQUIRED, description: The session's id for that visitor.}
      - {name: visitNumber, type: INT64, description: Which session of the visitor it is.}
      - {name: visitStartTime, type: INT64, mode: REQUIRED, description: Session start (seconds since the epoch).}
      - {name: date, type: STRING, mode: REQUIRED, description: "The session's day, as YYYYMMDD."}
      - {name: channelGrouping, type: STRING, description: "Default channel grouping, e.g. Organic Search."}
"""

GA4_EVENTS_SQL = """-- Every GA4 event of the day before the run, typed for the marts.
SELECT
  PARSE_DATE('%Y%m%d', event_date) AS event_day,
  TIMESTAMP_MICROS(event_timestamp) AS event_at,
  event_name,
  user_pseudo_id,
  user_id,
  LOWER(platform) AS platform,
  _TABLE_SUFFIX AS shard
FROM `ga4_site.events_*`
WHERE _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', DATE_SUB(@run_date, INTERVAL 1 DAY))
  AND event_name != 'session_start'
"""

GA4_EVENTS_YAML = """description: GA4 events of the marketing site, one day per partition.
columns:
  - {name: event_day, type: DATE, mode: REQUIRED, description: The day of the event.}
  - {name: event_at, type: TIMESTAMP, mode: REQUIRED, description: When it happened.}
  - {name: event_name, type: STRING, mode: REQUIRED, description: GA4 event name.}
  - {name: user_pseudo_id, type: STRING, description: The device's pseudonymous id.}
  - {name: user_id, type: STRING, description: Backend user id once signed in.}
  - {name: platform, type: STRING, description: "web, ios or android."}
  - {name: shard, type: STRING, mode: REQUIRED, description: The export table it came from (YYYYMMDD).}
incremental: true
partitioning: {field: event_day, type: DAY}
"""

GA360_SESSIONS_SQL = """-- Sessions and visitors per channel over the week before the run (GA360, legacy app).
SELECT
  PARSE_DATE('%Y%m%d', s.date) AS session_day,
  COALESCE(s.channelGrouping, '(none)') AS channel,
  COUNT(DISTINCT s.fullVisitorId) AS visitors,
  COUNT(*) AS sessions
FROM `ga360.ga_sessions_*` AS s
WHERE s._TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(@run_date, INTERVAL 7 DAY))
  AND FORMAT_DATE('%Y%m%d', DATE_SUB(@run_date, INTERVAL 1 DAY))
GROUP BY session_day, channel
"""

GA360_SESSIONS_YAML = """description: GA360 sessions per day and channel, over the last seven days.
columns:
  - {name: session_day, type: DATE, mode: REQUIRED, description: The day of the sessions.}
  - {name: channel, type: STRING, mode: REQUIRED, description: Default channel grouping.}
  - {name: visitors, type: INT64, mode: REQUIRED, description: Distinct visitors.}
  - {name: sessions, type: INT64, mode: REQUIRED, description: Sessions.}
"""

FOLDER = "scheduled_queries/staging/ga"


def add_ga_sources(project: Path) -> Path:
    """The GA4 and GA360 sources, their backups, and one staging query on each."""
    (project / "datasets/sources/ga4_site.yaml").write_text(GA4)
    (project / "datasets/sources/ga360.yaml").write_text(GA360)
    coverage = project / "backups/coverage.yaml"
    coverage.write_text(coverage.read_text() + "  ga4_site: [daily_snapshots]\n  ga360: [daily_snapshots]\n")
    folder = project / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stg_ga4_events.sql").write_text(GA4_EVENTS_SQL)
    (folder / "stg_ga4_events.yaml").write_text(GA4_EVENTS_YAML)
    (folder / "stg_ga360_sessions.sql").write_text(GA360_SESSIONS_SQL)
    (folder / "stg_ga360_sessions.yaml").write_text(GA360_SESSIONS_YAML)
    return project
