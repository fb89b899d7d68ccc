"""Every internal of the Pulumi SDK this project relies on, reached from this one module.

The offline plan runs the program the way the Python language host does, with Pulumi's mock
monitor in place of the engine (`runtime.py`). That needs parts of the SDK that are not its public
API: the mock monitor, settings and engine, `settings.configure`, the event-loop helper of its
executor threads, the config store that `set_all_config` fills (the program reads every key from
it), the property deserializer, the monitor's protobuf answer, the unknown-value marker and the
secret signature key. Nothing else in `infra/` imports them: when a Pulumi upgrade moves one,
importing this module fails with one message that names what moved and how to fix it, and
`tests/test_sdk.py` fails with the same message.

Deliberately not here: the SDK's public API (`pulumi.ComponentResource`, `pulumi.Config`,
`pulumi.runtime.run_in_stack`, `set_all_config`, ...), which the code uses directly.
"""

from __future__ import annotations

import importlib
from typing import Any

PINNED = "pulumi==3.272.0"  # requirements.txt: the version these locations were read from

# (module, attribute, what the plan needs it for)
INTERNALS: tuple[tuple[str, str, str], ...] = (
    ("pulumi.runtime.mocks", "MockMonitor", "the monitor that answers the program's registrations"),
    ("pulumi.runtime.mocks", "MockSettings", "the settings that point the SDK at the mock monitor"),
    ("pulumi.runtime.mocks", "MockEngine", "the engine stub that takes the program's log messages"),
    ("pulumi.runtime.mocks", "Mocks", "the base class the mock monitor is built with"),
    ("pulumi.runtime.settings", "configure", "installs the mock settings for one run"),
    ("pulumi.runtime.sync_await", "_ensure_event_loop", "an event loop for the SDK's executor threads"),
    ("pulumi.runtime.config", "CONFIG", "the config store that set_all_config fills"),
    ("pulumi.runtime.rpc", "deserialize_properties", "turns the recorded inputs back into values"),
    ("pulumi.runtime.rpc", "_special_sig_key", "the key that marks a secret in serialized properties"),
    ("pulumi.runtime.proto.resource_pb2", "RegisterResourceResponse", "the monitor's answer to a registration"),
    ("pulumi.output", "Unknown", "the marker of a value known only after `up`"),
)


class SdkMoved(ImportError):
    """An internal of the Pulumi SDK is not where this module looks for it."""


def _installed_version() -> str:
    try:
        from importlib.metadata import version

        return f"pulumi=={version('pulumi')}"
    except Exception:  # noqa: BLE001 - only for the message
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
    for module, attribute, why in INTERNALS:
        try:
            resolve(module, attribute, why)
        except SdkMoved as exc:
            out.append(str(exc))
    return out


_found = {attribute: resolve(module, attribute, why) for module, attribute, why in INTERNALS}

MockMonitor = _found["MockMonitor"]
MockSettings = _found["MockSettings"]
MockEngine = _found["MockEngine"]
Mocks = _found["Mocks"]
configure = _found["configure"]
ensure_event_loop = _found["_ensure_event_loop"]
CONFIG = _found["CONFIG"]
deserialize_properties = _found["deserialize_properties"]
SECRET_SIGNATURE_KEY: str = _found["_special_sig_key"]
RegisterResourceResponse = _found["RegisterResourceResponse"]
Unknown = _found["Unknown"]


def all_config() -> dict[str, str]:
    """Every config value the language host set (`namespace:key` -> string): the environment's
    and the config store's."""
    import pulumi

    return {**pulumi.runtime.get_config_env(), **CONFIG.get()}
