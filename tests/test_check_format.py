"""`check --format json|github`: one JSON document, or one GitHub Actions annotation per problem,
escaped so that GitHub's runner reads back exactly the text (`runner_parse` below is the runner's
parser, ported line by line), and the same exit codes as the text report."""

from __future__ import annotations

import json

import pytest

from infra.cli.check_report import annotation, escape_data, escape_property
from tests.conftest import run_cli

HOSTILE = "50% of a:b, c\r\nnext line %0A %25 :: end,"


def _unescape(text: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for token, replacement in mappings:
        text = text.replace(replacement, token)
    return text


def runner_parse(line: str) -> tuple[str, dict[str, str], str]:
    """(command, properties, data) as GitHub's runner reads a workflow command: actions/runner
    `src/Runner.Common/ActionCommand.cs`, `TryParseV2`, `UnescapeProperty` and `UnescapeData`
    (docs/real-world.md, gha-escaping)."""
    message = line.lstrip()
    assert message.startswith("::"), line
    end = message.index("::", 2)  # the first `::` after the prefix ends the command info
    info = message[2:end]
    command, _, properties = info.partition(" ")
    props = {}
    for item in [p for p in properties.strip().split(",") if p]:
        pair = [p for p in item.split("=", 1) if p]
        if len(pair) == 2:
            props[pair[0]] = _unescape(pair[1], (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"),
                                                 ("%", "%25")))
    return command, props, _unescape(message[end + 2:], (("\r", "%0D"), ("\n", "%0A"), ("%", "%25")))


def test_hostile_text_survives_the_runners_parser():
    assert escape_data("100%\n") == "100%25%0A"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    line = annotation("error", HOSTILE, title=HOSTILE, file=f"dir/{HOSTILE}.yaml", line=7)
    assert "\n" not in line and "\r" not in line  # one line, or the runner sees two
    assert runner_parse(line) == ("error", {"file": f"dir/{HOSTILE}.yaml", "line": "7", "title": HOSTILE}, HOSTILE)


def test_an_unknown_line_is_left_out():
    command, props, data = runner_parse(annotation("warning", "m", title="t", file="roles"))
    assert (command, props, data) == ("warning", {"file": "roles", "title": "t"}, "m")
    assert runner_parse(annotation("notice", "m", title="t")) == ("notice", {"title": "t"}, "m")


@pytest.fixture
def broken(project):
    """Three problems: a hostile column type (a line), a hostile unknown key (a line), a missing
    role file (no line)."""
    users = project / "scheduled_queries/mart/core/core_users.yaml"
    users.write_text(users.read_text().replace("type: DATE", 'type: "DA%0A:TE, x%"', 1))
    mart = project / "datasets/mart.yaml"
    mart.write_text(mart.read_text() + '"odd:key,50%": 1\n')
    (project / "roles/runner.yaml").unlink()
    return project


def test_github_format_prints_one_annotation_per_problem_as_json_lists_them(broken):
    data = run_cli("--root", str(broken), "check", "--stack", "prod", "--format", "json")
    github = run_cli("--root", str(broken), "check", "--stack", "prod", "--format", "github")
    text = run_cli("--root", str(broken), "check", "--stack", "prod")
    assert data.returncode == github.returncode == text.returncode == 1
    problems = json.loads(data.stdout)["problems"]
    assert len(problems) == len(text.stderr.splitlines()) - 1 > 3  # each line of the text report, but the count
    annotations = [runner_parse(line) for line in github.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == len(problems)
    for p, (command, props, message) in zip(problems, annotations, strict=True):
        assert command == "error" and message == f"{p['what']}; fix: {p['fix']}"
        assert props["file"] == p["file"] and props["title"] == f"check {p['key']}".strip()
        assert props.get("line") == (str(p["line"]) if p["line"] else None)
    hostile = [p for p in problems if "DA%0A:TE, x%" in p["what"] or "odd:key,50%" in p["key"]]
    assert len(hostile) == 2
    assert any(p["file"] == "roles" and p["line"] is None for p in problems)
    assert github.stderr.splitlines()[-1] == f"{len(problems)} problem(s) found."


def test_json_is_one_document_with_each_stack_and_each_problem_once(broken):
    done = run_cli("--root", str(broken), "check", "--format", "json")
    assert done.returncode == 1 and done.stderr == ""
    report = json.loads(done.stdout)
    assert [(s["stack"], s["status"]) for s in report["stacks"]] == [("dev", "problems"), ("prod", "problems")]
    assert all(set(p) == {"file", "line", "key", "what", "fix", "stacks"} for p in report["problems"])
    column = next(p for p in report["problems"] if "DA%0A" in p["what"])
    assert column["stacks"] == ["dev", "prod"] and column["file"] == "scheduled_queries/mart/core/core_users.yaml"
    assert report["failed"] == len(report["problems"]) and report["exit_code"] == 1
    assert report["selection"] is None and report["violations"] == []
    ok = run_cli("check", "--format", "json")
    assert ok.returncode == 0
    stacks = json.loads(ok.stdout)["stacks"]
    assert {s["status"] for s in stacks} == {"ok"} and all(s["queries"] > 30 for s in stacks)


def test_json_and_github_with_select_show_the_selection_and_count_the_rest(broken):
    done = run_cli("--root", str(broken), "check", "--stack", "prod", "--format", "json", "--select", "mart.core_users")
    assert done.returncode == 1
    report = json.loads(done.stdout)  # core_users.yaml did not load: selected by its name all the same
    assert [p["file"] for p in report["problems"]] == ["scheduled_queries/mart/core/core_users.yaml"]
    assert report["selection"]["tables"] == [] and report["selection"]["queries_not_loaded"] == ["mart/core/core_users"]
    assert report["selection"]["problems_not_shown"] == report["failed"] - 1 > 0
    done = run_cli("--root", str(broken), "check", "--stack", "prod", "--format", "json", "--select", "folder:core")
    report = json.loads(done.stdout)
    assert sorted(p["file"] for p in report["problems"]) == ["datasets/mart.yaml",
                                                             "scheduled_queries/mart/core/core_users.yaml"]
    assert report["selection"]["problems_not_shown"] == report["failed"] - 2 > 0
    github = run_cli("--root", str(broken), "check", "--stack", "prod", "--format", "github",
                     "--select", "folder:core")
    commands = [runner_parse(line) for line in github.stdout.splitlines() if line.startswith("::")]
    assert [c for c, _, _ in commands] == ["error", "error", "notice"]
    assert commands[-1][2].startswith(f"{report['failed'] - 2} other problem(s), outside the selection, not shown")


def test_policy_violations_are_errors_or_warnings_when_advisory(project):
    path = project / "roles/sync_census.yaml"
    path.write_text(path.read_text().replace("datasets: [census]", "datasets: [census, mart]"))
    done = run_cli("--root", str(project), "check", "--policy", "--stack", "prod", "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    [violation] = [v for v in report["violations"] if v["rule"] == "read-only-accounts-confined"]
    assert set(violation) == {"stack", "rule", "resource", "message", "fix", "advisory"}
    assert violation["advisory"] is False and "mart-dataset" in violation["resource"]
    assert report["stacks"][0]["status"] == "problems" and report["stacks"][0]["policy"]["mandatory"] >= 1
    platform = project / "platform" / "stacks.yaml"
    platform.write_text(platform.read_text().replace(
        "  prod:\n    protect: true\n    advisory_allowed: []",
        "  prod:\n    protect: true\n    advisory_allowed: [read-only-accounts-confined]"))
    stack = project / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("  warehouse:protect: true", "  warehouse:protect: true\n"
                                               "  warehouse:policyAdvisory: [read-only-accounts-confined]"))
    github = run_cli("--root", str(project), "check", "--policy", "--stack", "prod", "--format", "github")
    assert github.returncode == 0, github.stdout + github.stderr
    [warning] = [runner_parse(line) for line in github.stdout.splitlines() if line.startswith("::")]
    command, props, message = warning
    assert command == "warning" and props == {"title": "policy read-only-accounts-confined (advisory)"}
    assert "mart-dataset" in message and "; fix: " in message


def test_a_format_that_does_not_exist_is_a_usage_error():
    done = run_cli("check", "--format", "xml")
    assert done.returncode == 2 and "'xml' is not one of 'text', 'json', 'github'" in done.stderr
