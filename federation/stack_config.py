"""Reading this program's config the way Pulumi programs do: ``pulumi.Config``, one declared key at a time.

How the values get here: the CLI reads ``Pulumi.<stack>.yaml`` with go-yaml v3 and hands the language host one
string per key, objects and lists as JSON text (``Value.MarshalString`` in pulumi/sdk/go/common/resource/config/
object.go, Pulumi >= 3.88). The Python language host puts that map into the ``PULUMI_CONFIG`` environment variable
and the secret keys into ``PULUMI_CONFIG_SECRET_KEYS`` (``constructConfig`` in
sdk/python/cmd/pulumi-language-python/main.go); ``pulumi-language-python-exec`` passes both to
``pulumi.runtime.set_all_config``, where ``pulumi.Config`` reads them.
"""

from __future__ import annotations

from typing import Any

import pulumi

from federation.config import NAMESPACE, NOT_SECRET, ConfigError, config_keys


def stack_keys(namespace: str = NAMESPACE) -> set[str]:
    """The names of the stack's config keys in ``namespace``, without the namespace.

    The one place that reads below ``pulumi.Config``, because ``pulumi.Config`` reads only keys it is given and
    cannot list them, and listing them is what lets the loader refuse a misspelt key instead of ignoring it. It
    reads the ``PULUMI_CONFIG`` bag the language host hands every Python program, through
    ``pulumi.runtime.get_config_env`` (exported by the SDK, and what ``pulumi-language-python-exec`` itself reads).
    A harness that only calls ``set_all_config`` lists nothing here: plan/runner.py sets ``PULUMI_CONFIG`` the way
    the language host does.
    """
    prefix = namespace + ":"
    return {key[len(prefix) :] for key in pulumi.runtime.get_config_env() if key.startswith(prefix)}


def _read(config: pulumi.Config, key: str, text: bool) -> Any:
    if text:
        return config.get(key)
    try:
        return config.get_object(key)
    except pulumi.ConfigTypeError:
        # Not JSON: hand the text to the models, whose error names the key and the value.
        return config.get(key)


def stack_config() -> dict[str, Any]:
    """Every ``iam-federation:`` key the stack sets, namespaced: declared keys parsed, unknown keys as text.

    Refuses, before any value is read into an error message, a key stored as a secret: this program writes its
    settings in plain text into resource names, policies, tags and outputs, so it cannot keep one secret.
    """
    config = pulumi.Config(NAMESPACE)
    declared = config_keys()
    present = stack_keys() | {key for key in declared if config.get(key) is not None}
    secret = sorted(key for key in present if pulumi.runtime.is_config_secret(config.full_key(key)))
    if secret:
        raise ConfigError([f"{NAMESPACE}:{key}: is stored as a secret; {NOT_SECRET}" for key in secret])
    return {config.full_key(key): _read(config, key, declared.get(key, True)) for key in sorted(present)}
