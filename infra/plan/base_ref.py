"""The earlier plan of a git ref, built by that ref's own code from that ref's files (`plan --base REF`).

`git worktree add --detach <temporary directory> <commit>` checks the ref out beside the
checkout, on no branch, leaving the checkout and its uncommitted changes alone. The ref's program
then runs there, by this same Python, as `python -m infra --root <worktree> plan --stack S --quiet
--json <file>`, with the worktree as working directory and first on `PYTHONPATH`: `import infra`
then finds the ref's package, not this one (`PYTHONPATH` comes before site-packages, and the
editable install's finder comes after both). `git worktree remove --force` removes the worktree
afterwards, whether the plan succeeded or not. When the project is a folder of a larger
repository, the same folder of the worktree is the root.

Each failure is one line (`BaseRefError`): not a git checkout, an unknown ref, git missing, the
ref's plan failing (with its first line of output) or running for more than `TIMEOUT` seconds.

Deliberately not here: comparing the plans (`diff.py`); the ref's dependencies (it runs with
this checkout's virtualenv, as pinned now).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 900  # seconds for the ref's plan: the 3,000-table benchmark plans in well under that


class BaseRefError(Exception):
    """The earlier plan could not be built; `str()` is one line, `what; fix: how`."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise BaseRefError("git is not installed; fix: install git, or compare with --diff OLD.json") from None


def resolve(root: Path, ref: str) -> tuple[str, str]:
    """(commit, the project's folder inside the repository) of `ref` in the checkout at `root`."""
    from infra.declarations.gitref import GitError, resolve_commit

    try:
        return resolve_commit(root, ref, instead="compare with an earlier plan file (--diff OLD.json)")
    except GitError as exc:
        raise BaseRefError(str(exc)) from None


def earlier_plan(root: Path, ref: str, stack: str) -> tuple[dict, str]:
    """The plan JSON of `stack` at `ref`, and how to name it (`main (1a2b3c4d5e6f)`)."""
    commit, folder = resolve(root, ref)
    named = f"{ref} ({commit[:12]})"
    scratch = Path(tempfile.mkdtemp(prefix="warehouse-base-"))
    tree = scratch / "checkout"
    try:
        added = _git(root, "worktree", "add", "--detach", str(tree), commit)
        if added.returncode != 0:
            raise BaseRefError(f"git could not check out {named}: {_first_line(added.stderr)}; fix: "
                               "run `git worktree prune` and retry")
        project = tree / folder
        out = scratch / "plan.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(project), *filter(None, [os.environ.get("PYTHONPATH")])]))
        try:
            run = subprocess.run([sys.executable, "-m", "infra", "--root", str(project), "plan", "--stack", stack,
                                  "--quiet", "--json", str(out)], cwd=project, env=env, capture_output=True,
                                 text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BaseRefError(f"the plan of {named} ran for more than {TIMEOUT} s; fix: compare with an "
                               "earlier plan file (--diff OLD.json)") from None
        if run.returncode != 0 or not out.is_file():
            why = _first_line(run.stderr)
            fix = "" if "; fix: " in why else (f"; fix: see it whole with `git checkout {ref}` and `plan --stack "
                                               f"{stack}`, or compare with an earlier plan file (--diff OLD.json)")
            raise BaseRefError(f"the plan of stack {stack} at {named} failed: {why}{fix}")
        try:
            return json.loads(out.read_text(encoding="utf-8")), named
        except (ValueError, UnicodeDecodeError) as exc:
            raise BaseRefError(f"the plan of {named} is not JSON ({exc}); fix: compare with an earlier plan "
                               "file (--diff OLD.json)") from None
    finally:
        _remove(root, tree)
        shutil.rmtree(scratch, ignore_errors=True)


def _remove(root: Path, tree: Path) -> None:
    if tree.exists() and _git(root, "worktree", "remove", "--force", str(tree)).returncode != 0:
        shutil.rmtree(tree, ignore_errors=True)
        _git(root, "worktree", "prune")  # forgets the worktree whose folder is gone


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no message"
    more = len(lines) - 1
    return lines[0] + (f" ({more} more line{'s' if more > 1 else ''})" if more else "")
