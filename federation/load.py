"""The one loader: validate the config map, then check every generated document against AWS's limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation.config import AnyConfig, ConfigError, FederationConfig, parse_config
from federation.limits import limit_problems


def load_config(raw: Mapping[str, Any]) -> AnyConfig:
    config = parse_config(raw)
    # A member stack's documents (doer trust and state access) have a fixed size; the shared stack's are checked.
    problems = limit_problems(config) if isinstance(config, FederationConfig) else []
    if problems:
        raise ConfigError(problems)
    return config
