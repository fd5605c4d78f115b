"""The one loader: validate the config map, then check every generated document against AWS's limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation.config import ConfigError, FederationConfig, parse_config
from federation.limits import limit_problems


def load_config(raw: Mapping[str, Any]) -> FederationConfig:
    config = parse_config(raw)
    problems = limit_problems(config)
    if problems:
        raise ConfigError(problems)
    return config
