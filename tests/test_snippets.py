"""What users paste: the Terragrunt files parsed as HCL, and every ~/.aws/config profile resolved the way the AWS CLI
resolves it (botocore, with STS and the SSO portal stubbed at the HTTP layer)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.credentials
import botocore.session
import botocore.tokens
import hcl2
import pytest
import yaml
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from hcl2.utils import SerializationOptions

from federation import snippets
from federation.config import ConfigError
from plan.runner import ProgramRun, run_program, to_pulumi_config
from tests.conftest import MEMBER_STACK, config_of, example_section, run_section, with_changes

SHARED_ID = "111111111111"
ACCOUNTS = {"shared": SHARED_ID, "dev": "222222222222", "stage": "333333333333", "prod": "444444444444"}
STATE_MGMT_ARN = f"arn:aws:iam::{SHARED_ID}:role/state-mgmt-role"
ASSUMER_ARN = f"arn:aws:iam::{SHARED_ID}:role/infrastructure-assumer-role"
SHARED_STACK = "my-org/iam-federation/shared"

# The names the generated files may use, as Terragrunt v1.1.3 and Terraform's S3 backend document them:
# Terragrunt docs/src/content/docs/04-reference/01-hcl/02-blocks.mdx (remote_state, generate), 03-attributes.mdx
# (iam_role, *_version_constraint), internal/remotestate/backend/s3/remote_state_config.go (RemoteStateConfigS3,
# RemoteStateConfigS3AssumeRole); Terraform website/docs/language/backend/s3.mdx (workspace_key_prefix,
# use_lockfile, assume_role: source_identity and session_name too).
ROOT_ATTRIBUTES = {
    "terraform",  # with extra_arguments (commands, arguments): docs "Extra Arguments" (keep-your-cli-flags-dry)
    "locals",
    "iam_role",
    "iam_assume_role_session_name",
    "terragrunt_version_constraint",
    "terraform_version_constraint",
    "remote_state",
    "generate",
}
REMOTE_STATE_ATTRIBUTES = {"backend", "disable_init", "disable_dependency_optimization", "generate", "config"}
REMOTE_STATE_GENERATE = {"path", "if_exists"}
GENERATE_ATTRIBUTES = {"path", "if_exists", "if_disabled", "comment_prefix", "disable_signature", "contents"}
S3_BACKEND_ARGUMENTS = {
    "bucket",
    "key",
    "region",
    "encrypt",
    "use_lockfile",
    "dynamodb_table",
    "workspace_key_prefix",
    "kms_key_id",
    "assume_role",
}
ASSUME_ROLE_ARGUMENTS = {
    "role_arn",
    "duration",
    "external_id",
    "policy",
    "policy_arns",
    "session_name",
    "source_identity",
    "tags",
}
IF_EXISTS = {"overwrite", "overwrite_terragrunt", "skip", "error"}


def hcl(text: str) -> dict[str, Any]:
    """HCL as python-hcl2 reads it, strings unquoted and heredocs as their text."""
    options = SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, preserve_heredocs=False, with_comments=False
    )
    parsed: dict[str, Any] = hcl2.loads(text, serialization_options=options)
    return parsed


def facts(trusts_doers: bool = True, lock: snippets.LockMode = "lockfile") -> snippets.StateBackendFacts:
    return snippets.StateBackendFacts(
        bucket="terraform-state-111111111111",
        lock_table="terraform-state-lock-111111111111",
        region="us-east-1",
        state_mgmt_arn=STATE_MGMT_ARN,
        state_mgmt_trusts_doers=trusts_doers,
        lock=lock,
    )


DEV = snippets.AccountFacts("dev", "222222222222", "eu-west-1", "arn:aws:iam::222222222222:role/tf/doer")


# --- root.hcl and account.hcl ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lock", ["lockfile", "dynamodb", "both"])
@pytest.mark.parametrize("trusts_doers", [True, False])
def test_root_hcl_uses_only_documented_names(trusts_doers: bool, lock: snippets.LockMode) -> None:
    root = hcl(snippets.root_hcl(facts(trusts_doers, lock)))
    assert set(root) <= ROOT_ATTRIBUTES
    (remote_state,) = root["remote_state"]
    assert set(remote_state) <= REMOTE_STATE_ATTRIBUTES
    assert set(remote_state["generate"]) == REMOTE_STATE_GENERATE
    assert remote_state["generate"]["if_exists"] in IF_EXISTS
    assert set(remote_state["config"]) <= S3_BACKEND_ARGUMENTS
    assert set(remote_state["config"]["assume_role"]) <= ASSUME_ROLE_ARGUMENTS
    for block in root.get("generate", []):
        ((_, generate),) = block.items()
        assert set(generate) <= GENERATE_ATTRIBUTES and generate["if_exists"] in IF_EXISTS


@pytest.mark.parametrize("trusts_doers", [True, False])
def test_init_installs_only_the_committed_providers(trusts_doers: bool) -> None:
    # An account's admin may write that account's state, and a state file names providers that init would install.
    (terraform,) = hcl(snippets.root_hcl(facts(trusts_doers)))["terraform"]
    (block,) = terraform["extra_arguments"]
    assert block == {"committed_providers_only": {"commands": ["init"], "arguments": ["-lockfile=readonly"]}}


@pytest.mark.parametrize("trusts_doers", [True, False])
def test_root_hcl_keeps_state_by_account_behind_state_mgmt(trusts_doers: bool) -> None:
    root = hcl(snippets.root_hcl(facts(trusts_doers)))
    (remote_state,) = root["remote_state"]
    assert remote_state["backend"] == "s3"
    assert remote_state["generate"] == {"path": "backend.tf", "if_exists": "overwrite_terragrunt"}
    assert remote_state["disable_init"] is True
    assert remote_state["config"] == {
        "bucket": "terraform-state-111111111111",
        "key": "${local.account_id}/${path_relative_to_include()}/terraform.tfstate",
        "workspace_key_prefix": "${local.account_id}/workspaces",
        "region": "us-east-1",
        "encrypt": True,
        "use_lockfile": True,
        "assume_role": {
            "role_arn": STATE_MGMT_ARN,
            "session_name": "${local.who}",
            "source_identity": "${local.who}",
            "tags": {"StateAccount": "${local.account_id}"},
        },
    }
    (locals_,) = root["locals"]
    assert locals_["account"] == '${read_terragrunt_config(find_in_parent_folders("account.hcl")).locals}'
    assert locals_["account_id"] == "${local.account.account_id}"


@pytest.mark.parametrize(
    ("lock", "keys", "minimum"),
    [
        ("lockfile", {"use_lockfile"}, ">= 1.10.0"),
        ("dynamodb", {"dynamodb_table"}, ">= 1.6.0"),
        ("both", {"use_lockfile", "dynamodb_table"}, ">= 1.10.0"),
    ],
)
def test_the_lock_switch(lock: snippets.LockMode, keys: set[str], minimum: str) -> None:
    root = hcl(snippets.root_hcl(facts(lock=lock)))
    config = root["remote_state"][0]["config"]
    assert {k for k in ("use_lockfile", "dynamodb_table") if k in config} == keys
    assert config.get("use_lockfile", True) is True
    assert config.get("dynamodb_table", "terraform-state-lock-111111111111") == "terraform-state-lock-111111111111"
    assert root["terraform_version_constraint"] == minimum
    assert root["terragrunt_version_constraint"] == ">= 0.82.4"


def test_the_doer_chain_runs_terraform_as_the_doer_unless_the_shell_already_is() -> None:
    root = hcl(snippets.root_hcl(facts(trusts_doers=True)))
    assert root["iam_role"] == '${get_env("AWS_PROFILE", "") == local.aws_profile ? "" : local.doer_role_arn}'
    assert "generate" not in root


def test_the_articles_chain_generates_a_provider_that_assumes_the_doer() -> None:
    root = hcl(snippets.root_hcl(facts(trusts_doers=False)))
    assert "iam_role" not in root
    ((name, generate),) = root["generate"][0].items()
    assert (name, generate["path"], generate["if_exists"]) == ("provider", "provider.tf", "overwrite_terragrunt")
    (provider,) = hcl(generate["contents"])["provider"]
    aws = provider["aws"]
    assert aws["region"] == "${local.aws_region}"
    assert aws["allowed_account_ids"] == ["${local.account_id}"]
    assert aws["assume_role"][0]["role_arn"] == "${local.doer_role_arn}"


def test_account_hcl_holds_every_local_root_hcl_reads() -> None:
    (account,) = hcl(snippets.account_hcl(DEV))["locals"]
    assert account == {
        "account_name": "dev",
        "account_id": "222222222222",
        "aws_region": "eu-west-1",
        "doer_role_arn": "arn:aws:iam::222222222222:role/tf/doer",
        "aws_profile": "dev",
    }
    for trusts_doers in (True, False):
        (root_locals,) = hcl(snippets.root_hcl(facts(trusts_doers)))["locals"]
        read = {m for v in root_locals.values() for m in re.findall(r"local\.account\.(\w+)", v)}
        assert read == set(account)


def test_a_units_state_key_starts_with_its_account_id() -> None:
    # What Terragrunt computes for dev/network/terragrunt.hcl: path_relative_to_include() is "dev/network".
    config = hcl(snippets.root_hcl(facts()))["remote_state"][0]["config"]
    (account,) = hcl(snippets.account_hcl(DEV))["locals"]
    values = {"local.account_id": account["account_id"], "path_relative_to_include()": "dev/network"}
    key = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], config["key"])
    assert key == "222222222222/dev/network/terraform.tfstate"
    prefix = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], config["workspace_key_prefix"])
    assert f"{prefix}/staging/{key}".startswith("222222222222/")


# --- the stacks' outputs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_run() -> ProgramRun:
    return run_section(example_section())


@pytest.fixture(scope="module")
def member_run(shared_run: ProgramRun) -> ProgramRun:
    section = dict(yaml.safe_load(MEMBER_STACK.read_text())["config"])
    outputs = {SHARED_STACK: shared_run.outputs}
    return run_program(to_pulumi_config(section), stack="members-a", stack_outputs=outputs)


def test_the_shared_stack_outputs_root_hcl_and_an_account_file_per_account(shared_run: ProgramRun) -> None:
    outputs = shared_run.outputs
    assert outputs["terragrunt_root_hcl"] == snippets.root_hcl(facts())
    files = outputs["terragrunt_account_hcl"]
    assert set(files) == set(ACCOUNTS)
    for name, account_id in ACCOUNTS.items():
        (account,) = hcl(files[name])["locals"]
        assert (account["account_name"], account["account_id"]) == (name, account_id)
        assert account["doer_role_arn"] == outputs["doer_role_arns"][name]


def test_a_member_stack_writes_the_files_of_its_own_accounts(member_run: ProgramRun) -> None:
    outputs = member_run.outputs
    assert "terragrunt_root_hcl" not in outputs
    assert set(outputs["terragrunt_account_hcl"]) == {"data", "sandbox"}
    (data,) = hcl(outputs["terragrunt_account_hcl"]["data"])["locals"]
    assert data["doer_role_arn"] == "arn:aws:iam::555555555555:role/infrastructure-doer-role"
    assert "[profile data]" in outputs["aws_config_snippet"] and "[sso-session" not in outputs["aws_config_snippet"]


def test_the_lock_switch_is_a_config_key() -> None:
    config = config_of(with_changes(example_section(), state_backend={"terragrunt_lock": "both"}))
    assert snippets.state_backend_facts(config).lock == "both"
    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(example_section(), state_backend={"terragrunt_lock": "redis"}))
    (problem,) = caught.value.problems
    assert problem.startswith("iam-federation:state_backend.terragrunt_lock = 'redis': Input should be 'lockfile'")


# --- ~/.aws/config, resolved by botocore ---------------------------------------------------------------------------


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@dataclass
class FakeAws:
    """STS AssumeRole and the SSO portal's GetRoleCredentials as botocore sees them over HTTP. Every credential
    handed out remembers whom it stands for and which credential asked for it, so a profile's chain can be read."""

    token: str
    identity: dict[str, str] = field(default_factory=dict)
    caller: dict[str, str | None] = field(default_factory=dict)

    def _issue(self, identity: str, caller: str | None) -> str:
        key = f"ASIA{len(self.identity):016d}"
        self.identity[key], self.caller[key] = identity, caller
        return key

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        if url.path == "/federation/credentials":  # sso:GetRoleCredentials, with the cached SSO token
            assert request.headers["x-amz-sso_bearer_token"] in (self.token, self.token.encode())
            query = parse_qs(url.query)
            key = self._issue(f"sso:{query['account_id'][0]}:{query['role_name'][0]}", None)
            credentials = {"accessKeyId": key, "secretAccessKey": "x", "sessionToken": "x", "expiration": 4102444800000}
            body = json.dumps({"roleCredentials": credentials}).encode()
            return AWSResponse(request.url, 200, {}, _Body(body))
        form = parse_qs(request.body.decode() if isinstance(request.body, bytes) else str(request.body))
        assert form["Action"] == ["AssumeRole"], form
        authorization = request.headers["Authorization"]
        signed_by = re.search(
            r"Credential=(\w+)/", str(authorization, "utf-8") if isinstance(authorization, bytes) else authorization
        )
        assert signed_by is not None
        key = self._issue(form["RoleArn"][0], signed_by.group(1))
        xml = (
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>'
            f"<AccessKeyId>{key}</AccessKeyId><SecretAccessKey>x</SecretAccessKey><SessionToken>x</SessionToken>"
            "<Expiration>2100-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAX:s"
            "</AssumedRoleId><Arn>arn:aws:sts::000000000000:assumed-role/x/s</Arn></AssumedRoleUser>"
            "</AssumeRoleResult></AssumeRoleResponse>"
        )
        return AWSResponse(request.url, 200, {}, _Body(xml.encode()))

    def chain(self, key: str) -> list[str]:
        """Who a credential stands for, from the first sign-in to the role it ends at."""
        hops: list[str] = []
        current: str | None = key
        while current is not None:
            hops.insert(0, self.identity[current])
            current = self.caller[current]
        return hops


@pytest.fixture
def aws_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """resolve(config text) -> {profile: chain}: every profile of the file, as the AWS CLI would follow it."""
    return make_aws_cli(tmp_path, monkeypatch)


def make_aws_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The aws_cli fixture's resolver, for other test modules."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    cache = tmp_path / "sso-cache"
    cache.mkdir()
    # botocore fixes the SSO token cache directory at import; point it at the test's `aws sso login`.
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))

    def resolve(text: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
        path = tmp_path / "config"
        path.write_text(text)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
        full = botocore.session.Session().full_config
        aws = FakeAws(token="token-of-the-sso-login")
        for session_name, session in full["sso_sessions"].items():
            login = {"startUrl": session["sso_start_url"], "region": session["sso_region"]}
            login |= {"accessToken": aws.token, "expiresAt": "2100-01-01T00:00:00Z"}
            (cache / f"{hashlib.sha1(session_name.encode()).hexdigest()}.json").write_text(json.dumps(login))
        chains = {}
        for profile in full["profiles"]:
            session = botocore.session.Session(profile=profile)
            session.register("before-send", aws)
            credentials = session.get_credentials()
            assert credentials is not None, profile
            chains[profile] = aws.chain(credentials.get_frozen_credentials().access_key)
        return full, chains

    return resolve


def test_every_profile_resolves_to_its_role(aws_cli: Any) -> None:
    sso = {
        "permission_sets": ["AWSAdministratorAccess", "PlatformAdmin"],
        "start_url": "https://example.awsapps.com/start",
    }
    run = run_section(with_changes(example_section(), sso=sso))
    full, chains = aws_cli(run.outputs["aws_config_snippet"])
    admin = f"sso:{SHARED_ID}:AWSAdministratorAccess"
    expected = {
        "shared-AWSAdministratorAccess": [admin],
        "shared-PlatformAdmin": [f"sso:{SHARED_ID}:PlatformAdmin"],
        "assumer": [admin, ASSUMER_ARN],
    }
    expected |= {
        n: [admin, ASSUMER_ARN, f"arn:aws:iam::{i}:role/infrastructure-doer-role"] for n, i in ACCOUNTS.items()
    }
    assert chains == expected
    assert full["sso_sessions"]["sso"]["sso_start_url"] == "https://example.awsapps.com/start"
    assert full["profiles"]["dev"]["region"] == "us-east-1"


def test_member_profiles_chain_through_the_shared_assumer(
    shared_run: ProgramRun, member_run: ProgramRun, aws_cli: Any
) -> None:
    text = shared_run.outputs["aws_config_snippet"] + "\n" + member_run.outputs["aws_config_snippet"]
    _, chains = aws_cli(text)
    assert chains["sandbox"] == [
        f"sso:{SHARED_ID}:AWSAdministratorAccess",
        ASSUMER_ARN,
        "arn:aws:iam::666666666666:role/infrastructure-doer-role",
    ]


@pytest.mark.parametrize(
    ("sso", "profile", "account"),
    [
        ({}, "shared-AWSAdministratorAccess", SHARED_ID),
        ({"account_id": "444444444444"}, "prod-AWSAdministratorAccess", "444444444444"),
        (
            {"account_id": "999999999999", "account_name": "management"},
            "management-AWSAdministratorAccess",
            "999999999999",
        ),
        ({"account_id": "999999999999"}, "sso-AWSAdministratorAccess", "999999999999"),
    ],
)
def test_sso_profiles_are_named_after_the_sso_account(
    sso: dict[str, str], profile: str, account: str, aws_cli: Any
) -> None:
    config = config_of(with_changes(example_section(), sso={"permission_sets": ["AWSAdministratorAccess"], **sso}))
    text = snippets.aws_config_snippet(config, [DEV])
    _, chains = aws_cli(text)
    assert chains[profile] == [f"sso:{account}:AWSAdministratorAccess"]
    assert chains["dev"] == [f"sso:{account}:AWSAdministratorAccess", ASSUMER_ARN, DEV.doer_arn]


def test_without_permission_sets_there_is_no_workstation_path() -> None:
    config = config_of(with_changes(example_section(), sso={"permission_sets": []}))
    assert snippets.aws_config_snippet(config, [DEV]).startswith("# No SSO permission set is configured")
