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
from pathlib import Path

from infra.declarations.gitref import GitError, _first_line, _git, resolve_commit

__all__ = ["GitError", "changed_files", "resolve_commit"]


def changed_files(root: Path, ref: str) -> frozenset[str]:
    """The files under `root` (posix paths relative to it) that changed since the commit `ref`
    names: committed, staged, unstaged and untracked (not ignored) changes, deleted files included."""
    commit, _ = resolve_commit(root, ref)
    diff = _git(root, "diff", "--name-only", "--no-renames", "--relative", "-z", commit, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    for done in (diff, untracked):
        if done.returncode != 0:
            raise GitError(f"git failed: {_first_line(done.stderr) or 'no message'}",
                           "run the same git command by hand to see why")
    return frozenset(os.fsdecode(name) for out in (diff.stdout, untracked.stdout)
                     for name in out.split(b"\0") if name)
