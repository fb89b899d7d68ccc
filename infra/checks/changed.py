"""Which files changed since a git commit: what a `changed:REF` selector starts from (`select.py`).

Four git commands, each as git documents it (docs/real-world.md, `git-*` lines):

- `git rev-parse --is-inside-work-tree`: the project is in a git checkout, or one line says so;
- `git rev-parse --verify --quiet --end-of-options REF^{commit}`: REF names a commit (a branch,
  a tag, a hash, `HEAD~1`), or the selector is refused in one line;
- `git diff --name-only --no-renames --relative -z <commit> --`: every file that differs between
  that commit and the working tree, committed since or not, staged or not (a renamed file by both
  its names), relative to the project root, which may sit below the repository's top;
- `git ls-files --others --exclude-standard -z`: the new files git does not track yet and does not
  ignore.

Paths come NUL-separated (`-z`), so no name is quoted or cut at a newline.

Deliberately not here: which tables a file declares (`select.py`).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitError(Exception):
    """git could not answer: `what` went wrong and `fix` says how to get on; one line."""

    def __init__(self, what: str, fix: str):
        super().__init__(f"{what}; fix: {fix}")
        self.what = what
        self.fix = fix


def changed_files(root: Path, ref: str) -> frozenset[str]:
    """The files under `root` (posix paths relative to it) that changed since the commit `ref`
    names: committed, staged, unstaged and untracked (not ignored) changes, deleted files included."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        raise GitError(f"git cannot read {root}: {_first_line(inside.stderr) or 'not inside a work tree'}",
                       "run it in a git checkout of the project, or select without changed:")
    verified = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if verified.returncode != 0:  # --quiet: no message, a non-zero exit
        raise GitError(f"git knows no commit {ref!r}",
                       "name a branch, tag or commit of this repository (in CI, fetch it first: "
                       "actions/checkout with fetch-depth: 0)")
    commit = verified.stdout.decode().strip()
    diff = _git(root, "diff", "--name-only", "--no-renames", "--relative", "-z", commit, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    for done in (diff, untracked):
        if done.returncode != 0:
            raise GitError(f"git failed: {_first_line(done.stderr) or 'no message'}",
                           "run the same git command by hand to see why")
    return frozenset(os.fsdecode(name) for out in (diff.stdout, untracked.stdout)
                     for name in out.split(b"\0") if name)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed", "install git, or select without changed:") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git took more than a minute in {root}", "run `git status` there to see why") from None


def _first_line(stderr: bytes) -> str:
    lines = os.fsdecode(stderr).strip().splitlines()
    return lines[0] if lines else ""
