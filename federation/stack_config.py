"""Reading the stack's whole config map from the Pulumi runtime (the one place that touches its internals)."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import config as runtime_config


def stack_config() -> dict[str, Any]:
    """Every config key of the stack, namespaced, as the language host handed it to the program.

    pulumi.Config reads one known key at a time; listing them all is what lets the loader refuse a misspelt key
    instead of silently ignoring it.
    """
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
