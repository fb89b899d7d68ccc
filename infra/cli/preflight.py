"""What every command does before its own work, in one place (after dbt-core's `cli/requires.py`).

- `stack_option`: the `--stack` option of every command, with one default (`dev`) and
  `WAREHOUSE_STACK` to change it.
- `fail`: one line on stderr, `<command>: <what>; fix: <how>`, and exit 1.
- `load`: the stack's validated model, or every problem (one line each) and exit 1.
- `load_and_plan`: the model and the offline plan from one run of the program.
- `known_stack`: refuse a stack without a `Pulumi.<stack>.yaml`, naming the ones there are.
- `client`: a BigQuery client for the stack's project (or the local emulator), or one line.
- `guarded`: run an action against BigQuery; credential, API and network errors become one
  `Refused` line (`run_guarded` fails with it); nothing reaches the user as a traceback.

Deliberately not here: what a command does with the model, and its output.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from infra.model.load import load_for_stack
from infra.ops.bigquery_client import CredentialsProblem, connect, one_line
from infra.problems import ProblemsError

if TYPE_CHECKING:
    from infra.model.warehouse import Warehouse
    from infra.plan.runtime import Plan

# Google's client libraries warn on import about future Python support: not something a user of
# these commands can act on, and it would break the one-line-per-problem output.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")

T = TypeVar("T")

# Where a mistake costs least: a command run without --stack reads, plans or touches dev.
DEFAULT_STACK = "dev"
STACK_ENVVAR = "WAREHOUSE_STACK"


def stack_option(purpose: str, *, every_by_default: bool = False) -> Callable[[T], T]:
    """The `--stack` option, one definition for every command: `--stack S`, else `WAREHOUSE_STACK`,
    else `dev` (click reads the variable, ignoring it when empty). `every_by_default` is for `check`
    and `review`: repeatable, every stack when not given, and the variable is not read, because
    validation and a pull request's review cover every stack. An unknown stack is refused where the
    stack is loaded (one line)."""
    if every_by_default:
        return click.option("--stack", "stack_names", multiple=True, metavar="STACK",
                            help=f"{purpose}, repeatable (default: every Pulumi.<stack>.yaml; {STACK_ENVVAR} is not "
                                 "read).")
    return click.option("--stack", default=DEFAULT_STACK, envvar=STACK_ENVVAR, show_envvar=True, show_default=True,
                        metavar="STACK", callback=_stack_from_environment, help=f"{purpose} (its Pulumi.<stack>.yaml).")


def _stack_from_environment(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A stack that `WAREHOUSE_STACK` names and that does not exist is refused naming the variable:
    nothing on the command line says where the name came from."""
    root = ctx.find_object(Path)
    if (ctx.get_parameter_source(param.name or "") is ParameterSource.ENVIRONMENT and root is not None
            and value not in stacks(root)):
        fail(" ".join(ctx.command_path.split()[1:]),
             f"{STACK_ENVVAR}={value!r} names no stack (no Pulumi.{value}.yaml); fix: use one of: "
             f"{', '.join(stacks(root))}, or unset {STACK_ENVVAR}")
    return value


EMULATOR_OPTION = click.option(
    "--emulator-url", hidden=True, default=None,
    help="Use the local BigQuery emulator at this URL (anonymous credentials, the emulator's SQL). For tests.")


class UsageExitsOne(click.Command):
    """A command whose exit code 2 means a finding (`drift`, `adopt`): usage errors exit 1, not
    click's 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise


def fail(command: str, message: str) -> NoReturn:
    click.echo(f"{command}: {message}", err=True)
    sys.exit(1)


def report_problems(exc: ProblemsError) -> None:
    click.echo(str(exc), err=True)
    click.echo(f"{len(exc.problems)} problem(s) found.", err=True)


def stacks(root: Path) -> list[str]:
    """The stacks of the project: one `Pulumi.<stack>.yaml` each."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def known_stack(command: str, root: Path, stack: str) -> None:
    if not (root / f"Pulumi.{stack}.yaml").is_file():
        fail(command, f"there is no stack {stack!r} (no Pulumi.{stack}.yaml); fix: use one of: "
                      f"{', '.join(stacks(root))}")


def load(root: Path, stack: str) -> Warehouse:
    """The validated warehouse of a stack; exit 1 with one line per problem on bad input."""
    try:
        return load_for_stack(root, stack)
    except ProblemsError as exc:
        report_problems(exc)
        sys.exit(1)


def load_and_plan(root: Path, stack: str) -> tuple[Warehouse, Plan]:
    """The validated warehouse and its plan, loaded once (by the program); exit 1 with one line
    per problem on bad input, with the stack file's line numbers, which the program's runtime
    config does not carry."""
    from infra.plan.runtime import ProgramError, run_program

    try:
        plan = run_program(root, stack)
        return plan.warehouse, plan
    except ProblemsError as exc:
        report_problems(exc)
    except ProgramError as exc:
        try:
            load_for_stack(root, stack)
        except ProblemsError as located:
            report_problems(located)
        else:
            click.echo(str(exc), err=True)
    sys.exit(1)


def client(command: str, warehouse: Warehouse, emulator_url: str | None) -> Any:
    """A BigQuery client for the stack's project, or the emulator's; one line and exit 1 without
    usable credentials."""
    try:
        return connect(warehouse.stack.project, emulator_url)
    except CredentialsProblem as exc:
        fail(command, str(exc))


class Refused(Exception):
    """BigQuery, the credentials or the network refused an action; `str()` is one line."""


def guarded(action: Callable[[], T], refused_fix: str) -> T:
    """`action()`; its credential, API and network errors as one `Refused` line. `refused_fix` is
    the fix when BigQuery answers with an error (which permission or name to check)."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from requests.exceptions import RequestException

    try:
        return action()
    except GoogleAuthError as exc:
        raise Refused(f"the Google Cloud credentials could not be used: {one_line(exc)}; fix: run "
                      "`gcloud auth application-default login` again") from None
    except GoogleAPIError as exc:
        raise Refused(f"BigQuery refused: {one_line(exc)}; fix: {refused_fix}") from None
    except RequestException as exc:
        raise Refused(f"BigQuery could not be reached: {one_line(exc)}; fix: check the network and retry") from None


def run_guarded(command: str, action: Callable[[], T], refused_fix: str) -> T:
    """`guarded`, failing with the one line."""
    try:
        return guarded(action, refused_fix)
    except Refused as exc:
        fail(command, str(exc))
