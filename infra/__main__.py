"""Entry point for both ways `infra/` runs.

- Pulumi's Python language host runs this directory as a program (`main: infra/`):
  `runpy.run_path("infra/", run_name="__main__")`, so `__package__` is empty and the directory
  itself, not the repository, is on `sys.path`. Then this file declares the warehouse.
- `python -m infra ...` runs it as the package's main module (`__package__ == "infra"`). Then this
  file is the command-line interface.
"""

import sys
from pathlib import Path

if __package__:
    from infra.cli import main as cli_main

    sys.exit(cli_main())
else:
    _root = str(Path(__file__).resolve().parent.parent)
    if _root not in sys.path:
        sys.path.insert(0, _root)
    from infra.resources.program import main as program_main

    # The declarations are read next to this file, whichever copy of the package was imported.
    # `warehouse` is the model this run declared: the offline plan reads it from the namespace
    # that runpy returns for this run (infra/plan/runtime.py); the language host ignores it.
    warehouse = program_main(Path(__file__).resolve().parent.parent)
