"""The declarations as they were at a git ref, for commands that compare with an earlier version
(`check --base REF`): the files of the ref, extracted with `git archive` into a temporary folder
that goes away afterwards. Only files tracked at the ref are there, as they were committed.

Deliberately not here: running the ref's own code (`plan --base` does that in a worktree).
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RefError(ValueError):
    """A ref that cannot be read: not a git checkout, an unknown ref; the message says which."""


@contextmanager
def files_at(root: Path, ref: str) -> Iterator[Path]:
    """A temporary folder holding the project's tracked files as they were at `ref`."""
    if ref.startswith("-"):
        raise RefError(f"{ref!r} is not a git ref")
    found = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                           capture_output=True, text=True, check=False)
    if found.returncode != 0:
        inside = subprocess.run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True, check=False)
        raise RefError(f"{root} is not a git checkout" if inside.returncode != 0 else f"unknown git ref {ref!r}")
    commit = found.stdout.strip()
    prefix = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-prefix"], capture_output=True, text=True,
                            check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="warehouse-base-") as tmp:
        archive = Path(tmp) / "ref.tar"
        # `commit:prefix` archives the project's folder when the project is a subfolder of the repository.
        tree = f"{commit}:{prefix}" if prefix else commit
        with archive.open("wb") as out:
            subprocess.run(["git", "-C", str(root), "archive", "--format=tar", tree], stdout=out, check=True)
        target = Path(tmp) / "files"
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        yield target
