"""Run the real program (``__main__.py``) under Pulumi's mock runtime and record what it registers.

The mock monitor stands in for the engine: it sees every RegisterResource request exactly as the engine would
(type, name, parent, provider, protect, retain-on-delete, inputs). Computed outputs (ARNs, ids) are filled in the
way AWS forms them, from the account the resource's provider is pinned to, so later checks read real-shaped
values rather than placeholders.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import runpy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from plan.stack_yaml import read_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_DIR / "__main__.py"
PROJECT = "iam-federation"
PROVIDER_TYPE = "pulumi:providers:aws"


@dataclass
class Registration:
    """One RegisterResource request, as the engine would receive it, plus the mock's computed state."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    custom: bool
    inputs: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)  # URNs this resource waits for (depends_on and inputs)

    @property
    def provider_urn(self) -> str:
        # The SDK sends "<provider urn>::<provider id>".
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class ProgramRun:
    registrations: list[Registration]
    outputs: dict[str, Any]

    @property
    def resources(self) -> list[Registration]:
        return [r for r in self.registrations if r.type != "pulumi:pulumi:Stack"]

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}

    @functools.cached_property
    def _provider_accounts(self) -> dict[str, str]:
        return {
            r.urn: str(json.loads(r.inputs["allowedAccountIds"])[0])
            for r in self.registrations
            if r.type == PROVIDER_TYPE
        }

    def account_of(self, registration: Registration) -> str:
        """The account a resource lands in: the one its provider is pinned to."""
        return self._provider_accounts[registration.provider_urn]


def _account_from(provider_inputs: dict[str, Any]) -> str:
    allowed = provider_inputs.get("allowedAccountIds")
    ids = json.loads(allowed) if isinstance(allowed, str) else allowed
    return str(ids[0]) if ids else "000000000000"


class FederationMocks(pulumi.runtime.Mocks):
    """Computes the outputs AWS would: ARNs in the provider's account, names as given."""

    def __init__(self, stack_outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.provider_accounts: dict[str, str] = {}
        self.region_of: dict[str, str] = {}
        # Outputs of other stacks, by stack name, for the program's StackReferences.
        self.stack_outputs = stack_outputs or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            stack_name = str(inputs["name"])
            if stack_name not in self.stack_outputs:
                raise ValueError(f"no outputs known for stack reference {stack_name!r}")
            outputs = self.stack_outputs[stack_name]
            return stack_name, {"name": stack_name, "outputs": outputs, "secretOutputNames": []}
        if args.typ == PROVIDER_TYPE:
            # Provider names are unique in a stack; a resource's provider reference ends in "::<name>::<id>".
            self.provider_accounts[args.name] = _account_from(inputs)
            self.region_of[args.name] = str(inputs.get("region", "us-east-1"))
            return f"{args.name}-id", inputs
        provider_name = args.provider.split("::")[-2] if args.provider else ""
        account = self.provider_accounts.get(provider_name, "000000000000")
        region = self.region_of.get(provider_name, "us-east-1")
        state = dict(inputs)
        resource_id = f"{args.name}-id"
        if args.typ == "aws:iam/role:Role":
            resource_id = inputs["name"]
            state["arn"] = f"arn:aws:iam::{account}:role{inputs.get('path', '/')}{inputs['name']}"
            state["uniqueId"] = "AROA" + account
        elif args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            # IAM names the provider after the issuer URL's host and path.
            url = str(inputs["url"]).removeprefix("https://")
            state["arn"] = resource_id = f"arn:aws:iam::{account}:oidc-provider/{url}"
        elif args.typ == "aws:iam/instanceProfile:InstanceProfile":
            resource_id = inputs["name"]
            state["arn"] = f"arn:aws:iam::{account}:instance-profile{inputs.get('path', '/')}{inputs['name']}"
        elif args.typ == "aws:s3/bucket:Bucket":
            resource_id = inputs["bucket"]
            state["arn"] = f"arn:aws:s3:::{inputs['bucket']}"
        elif args.typ == "aws:kms/key:Key":
            resource_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account}/{args.name}"))
            state["keyId"] = resource_id
            state["arn"] = f"arn:aws:kms:{region}:{account}:key/{resource_id}"
        elif args.typ == "aws:dynamodb/table:Table":
            resource_id = inputs["name"]
            state["arn"] = f"arn:aws:dynamodb:{region}:{account}:table/{inputs['name']}"
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        # The program makes no invokes; one showing up here is a bug worth failing on.
        raise AssertionError(f"unexpected invoke {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, keeping every request (the stock one keys by URN and hides duplicates)."""

    def __init__(self, mocks: FederationMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            provider=request.provider,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            custom=bool(request.custom),
            inputs=dict(pulumi.runtime.rpc.deserialize_properties(request.object)) if request.custom else {},
            dependencies=list(request.dependencies),
        )
        if response.urn in self.resources:
            registration.state = dict(self.resources[response.urn].state)
        self.registrations.append(registration)
        return response


def _like_go_json(value: Any) -> Any:
    # Go's encoding/json writes a whole float64 below 1e21 without a fraction ('f' format), so the program parses
    # the CLI's 12345678901.0 as the int 12345678901; Python would write 12345678901.0.
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _like_go_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_like_go_json(v) for v in value]
    return value


def to_pulumi_config(config: dict[str, Any], project: str = PROJECT) -> dict[str, str]:
    """A stack file's ``config:`` section as the CLI hands it to a program: namespaced keys, one string each.

    Pulumi >= 3.88 (``object.MarshalString``, sdk/go/common/resource/config/object.go): text as it is, booleans
    and numbers as their JSON text, objects and lists (and null) as JSON.
    """
    result: dict[str, str] = {}
    for key, value in config.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"value"}:
            value = value["value"]
        value = _like_go_json(value)
        result[full_key] = value if isinstance(value, str) else json.dumps(value)
    return result


def stack_file_config(path: Path, project: str = PROJECT) -> dict[str, str]:
    """The config of a Pulumi.<stack>.yaml file, as the program would receive it from the CLI.

    The file is read as the CLI reads it (plan/stack_yaml.py): a syntax error, a key defined twice, a secret or a
    value the CLI may read differently is a ConfigError naming file:line:column, never a traceback.
    """
    return to_pulumi_config(read_stack_file(path), project)


@contextlib.contextmanager
def _language_host_config(config: dict[str, str], secret_keys: list[str]) -> Iterator[None]:
    """Hand the program its config as the Python language host does, for the length of one run.

    The host puts the config map and the secret keys into PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS
    (sdk/python/cmd/pulumi-language-python/main.go), and pulumi-language-python-exec passes both to set_all_config.
    """
    saved = {name: os.environ.get(name) for name in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")}
    os.environ["PULUMI_CONFIG"] = json.dumps(config)
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys)
    pulumi.runtime.set_all_config(config, secret_keys)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_program(
    config: dict[str, str],
    stack: str = "shared",
    stack_outputs: dict[str, dict[str, Any]] | None = None,
    secret_keys: list[str] | None = None,
) -> ProgramRun:
    """Run __main__.py once, in a fresh runtime, and return what it registered and exported.

    stack_outputs: the outputs of the stacks a member stack references, by the referenced stack name.
    secret_keys: the config keys the CLI would mark secret (set with --secret).
    """
    with _language_host_config(config, secret_keys or []):
        return _run(stack, stack_outputs)


def _run(stack: str, stack_outputs: dict[str, dict[str, Any]] | None) -> ProgramRun:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi_settings.reset_options()
    pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
    mocks = FederationMocks(stack_outputs)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    root = pulumi_settings.get_root_resource()

    def program() -> None:
        runpy.run_path(str(PROGRAM), run_name="__main__")

    _sync_await(run_pulumi_func(program))
    exported = getattr(root, "outputs", {})
    resolved = _sync_await(pulumi.Output.from_input(exported).future())
    outputs: dict[str, Any] = dict(resolved or {})
    for registration in monitor.registrations:
        if not registration.state and registration.urn in monitor.resources:
            registration.state = dict(monitor.resources[registration.urn].state)
    loop.close()
    return ProgramRun(registrations=monitor.registrations, outputs=outputs)


def stack_name_of(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def run_stack_file(path: Path, stack_outputs: dict[str, dict[str, Any]] | None = None) -> ProgramRun:
    return run_program(stack_file_config(path), stack=stack_name_of(path), stack_outputs=stack_outputs)
