"""The project as git knows it: the commit a ref names, and the tracked files at that commit.

Every command that compares with a git ref asks here: `changed:REF` selectors
(`infra/checks/changed.py`), `check --base REF` (the declarations at the ref, `files_at`) and
`plan --base REF` (`infra/plan/base_ref.py`, which checks the ref out to run its own code). git is
asked as it documents itself (docs/real-world.md, `git-*` lines):

- `git rev-parse --is-inside-work-tree`: the project is in a git checkout, or one line says so;
- `git rev-parse --verify --quiet --end-of-options REF^{commit}`: REF names a commit, or one line;
- `git rev-parse --show-prefix`: the project's folder inside the repository ('' at its top);
- `git archive --format=tar COMMIT:PREFIX`: the project's tracked files at that commit.

Deliberately not here: what changed (`changed.py`) and running a ref's code (`base_ref.py`).
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class GitError(Exception):
    """git could not answer: `what` went wrong and `fix` says how to get on; one line."""

    def __init__(self, what: str, fix: str):
        super().__init__(f"{what}; fix: {fix}")
        self.what = what
        self.fix = fix


def resolve_commit(root: Path, ref: str, instead: str = "select without changed:") -> tuple[str, str]:
    """(the commit `ref` names, the project's folder inside the repository: '' at its top). The one
    place every command that compares with a git ref (`changed:REF`, `check --base`, `plan --base`)
    asks git; `instead` is the fix offered when there is no git checkout."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        raise GitError(f"git cannot read {root}: {_first_line(inside.stderr) or 'not inside a work tree'}",
                       f"run it in a git checkout of the project, or {instead}")
    verified = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if verified.returncode != 0:  # --quiet: no message, a non-zero exit
        raise GitError(f"git knows no commit {ref!r}",
                       "name a branch, tag or commit of this repository (in CI, fetch it first: "
                       "actions/checkout with fetch-depth: 0)")
    prefix = _git(root, "rev-parse", "--show-prefix")
    return verified.stdout.decode().strip(), os.fsdecode(prefix.stdout).strip()


@contextmanager
def files_at(root: Path, ref: str) -> Iterator[Path]:
    """A temporary folder holding the project's tracked files as they were at `ref`."""
    commit, prefix = resolve_commit(root, ref, instead="check without --base")
    with tempfile.TemporaryDirectory(prefix="warehouse-base-") as tmp:
        archive = Path(tmp) / "ref.tar"
        # `commit:prefix` archives the project's folder when the project is a subfolder of the repository.
        tree = f"{commit}:{prefix}" if prefix else commit
        with archive.open("wb") as out:
            done = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", tree], stdout=out,
                                  stderr=subprocess.PIPE, check=False)
        if done.returncode != 0:
            raise GitError(f"git archive of {ref} failed: {_first_line(done.stderr) or 'no message'}",
                           "run the same git command by hand to see why")
        target = Path(tmp) / "files"
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        yield target


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed", "install git (every comparison with a git ref needs it)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git took more than a minute in {root}", "run `git status` there to see why") from None


def _first_line(stderr: bytes) -> str:
    lines = os.fsdecode(stderr).strip().splitlines()
    return lines[0] if lines else ""
