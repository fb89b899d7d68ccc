"""Every internal of the Pulumi SDK this project relies on, reached from this one module.

The offline plan runs the program the way the Python language host does, with Pulumi's mock
monitor in place of the engine (`runtime.py`). That needs parts of the SDK that are not its public
API: the mock monitor, settings and engine, `settings.configure`, the event-loop helper of its
executor threads, the config store that `set_all_config` fills (the program reads every key from
it), the property deserializer, the monitor's protobuf answer, the unknown-value marker and the
secret signature key. Nothing else in `infra/` imports them: when a Pulumi upgrade moves one, its
first use raises `SdkMoved` with one message that names what moved and how to fix it (the CLI
prints it as its one line), and `tests/test_sdk.py` fails with the same message.
(`tests/test_language_host.py` reproduces the language host on its own, without `infra`.)

Deliberately not here: the SDK's public API (`pulumi.ComponentResource`, `pulumi.Config`,
`pulumi.runtime.run_in_stack`, `set_all_config`, ...), which the code uses directly.
"""

from __future__ import annotations

import importlib
from typing import Any

PINNED = "pulumi==3.272.0"  # requirements.txt: the version these locations were read from

# The name this module gives each internal -> (its module, its attribute, what the plan needs it for).
INTERNALS: dict[str, tuple[str, str, str]] = {
    "MockMonitor": ("pulumi.runtime.mocks", "MockMonitor", "the monitor that answers the program's registrations"),
    "MockSettings": ("pulumi.runtime.mocks", "MockSettings", "the settings that point the SDK at the mock monitor"),
    "MockEngine": ("pulumi.runtime.mocks", "MockEngine", "the engine stub that takes the program's log messages"),
    "Mocks": ("pulumi.runtime.mocks", "Mocks", "the base class the mock monitor is built with"),
    "configure": ("pulumi.runtime.settings", "configure", "installs the mock settings for one run"),
    "ensure_event_loop": ("pulumi.runtime.sync_await", "_ensure_event_loop",
                          "an event loop for the SDK's executor threads"),
    "CONFIG": ("pulumi.runtime.config", "CONFIG", "the config store that set_all_config fills"),
    "deserialize_properties": ("pulumi.runtime.rpc", "deserialize_properties",
                               "turns the recorded inputs back into values"),
    "SECRET_SIGNATURE_KEY": ("pulumi.runtime.rpc", "_special_sig_key",
                             "the key that marks a secret in serialized properties"),
    "RegisterResourceResponse": ("pulumi.runtime.proto.resource_pb2", "RegisterResourceResponse",
                                 "the monitor's answer to a registration"),
    "Unknown": ("pulumi.output", "Unknown", "the marker of a value known only after `up`"),
}


class SdkMoved(ImportError):
    """An internal of the Pulumi SDK is not where this module looks for it."""


def _installed_version() -> str:
    try:
        from importlib.metadata import version

        return f"pulumi=={version('pulumi')}"
    except Exception:
        return "an unknown pulumi version"


def moved_message(module: str, attribute: str, why: str) -> str:
    return (f"the Pulumi SDK internal {module}.{attribute} ({why}) is not there in {_installed_version()}; "
            f"fix: pin {PINNED} in requirements.txt again, or point infra/plan/sdk.py at where this Pulumi "
            "version keeps it")


def resolve(module: str, attribute: str, why: str = "") -> Any:
    """`module.attribute`, or `SdkMoved` with the message of `moved_message`."""
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        raise SdkMoved(moved_message(module, attribute, why)) from None


def missing() -> list[str]:
    """One message per internal that is not where this module looks for it (none: all found)."""
    out = []
    for module, attribute, why in INTERNALS.values():
        try:
            resolve(module, attribute, why)
        except SdkMoved as exc:
            out.append(str(exc))
    return out


def __getattr__(name: str) -> Any:
    """Each internal, resolved on first use (PEP 562): `SdkMoved` itself can always be imported,
    so a command reports a moved internal in one line."""
    if name not in INTERNALS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = resolve(*INTERNALS[name])
    globals()[name] = value
    return value


def all_config() -> dict[str, str]:
    """Every config value the language host set (`namespace:key` -> string): the environment's
    and the config store's."""
    import pulumi

    return {**pulumi.runtime.get_config_env(), **__getattr__("CONFIG").get()}
