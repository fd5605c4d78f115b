"""Names AWS accepts, kept as data beside their sources: what config validation refuses before anything is registered.

The program must not depend on botocore at run time, so the few rules it needs from AWS's service models and guides
are copied here, each with its source. ``tests/test_accepts.py`` checks the copies against botocore's installed data
(the region list against ``botocore/data/partitions.json``, the patterns against the service models), and the offline
plan's check ``aws-accepts`` (``plan/aws_rules.py``) judges every registered value against the models themselves.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# Regions of the `aws` partition, from botocore/data/partitions.json ("partitions"[id=aws]."regions", botocore 1.44.8;
# the pseudo-region aws-global left out). A region AWS opens later is refused until this list is updated: the test
# test_region_list_is_botocores fails when the installed botocore knows a region this list does not.
AWS_PARTITION_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "me-west-1",
        "mx-central-1",
        "sa-east-1",
        "sa-west-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)
REGIONS_SOURCE = "botocore/data/partitions.json, partition aws"

# IAM tags (service model iam, shapes tagKeyType / tagValueType): letters, separators and numbers of any script
# (Java's \p{L}, \p{Z}, \p{N}) and _ . : / = + - @; keys 1-128, values 0-256. The prefix aws: is AWS's own
# (IAM User Guide, "Tagging IAM resources": "You can't create tag keys or values that begin with aws:").
TAG_PUNCTUATION = frozenset("_.:/=+-@")
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_SOURCE = "iam service model, shapes tagKeyType/tagValueType; IAM User Guide, Tagging IAM resources"


def tag_text_problem(text: str, *, key: bool) -> str | None:
    """Why IAM would refuse this tag key (key=True) or value, or None. Organizations' tag shapes are the same."""
    limit = TAG_KEY_MAX if key else TAG_VALUE_MAX
    if key and not text:
        return "a tag key needs 1 character at least"
    if len(text) > limit:
        return f"IAM takes at most {limit} characters in a tag {'key' if key else 'value'}"
    bad = sorted({c for c in text if c not in TAG_PUNCTUATION and unicodedata.category(c)[0] not in "LZN"})
    if bad:
        return (
            f"IAM's tag pattern takes letters, spaces, digits and _ . : / = + - @ only, not {''.join(bad)!r} "
            f"({TAG_SOURCE})"
        )
    if text.lower().startswith("aws:"):
        return "the prefix aws: is reserved for AWS's own tags"
    return None


# KMS alias names (kms service model, shape AliasNameType ^[a-zA-Z0-9:/_-]+$, 1-256; KMS API Reference, CreateAlias:
# "The alias must be string of 1-256 characters ... must begin with alias/ followed by a name ... cannot begin with
# alias/aws/", the prefix AWS managed keys use).
KMS_ALIAS_RE = re.compile(r"^alias/[a-zA-Z0-9:/_-]+$", re.ASCII)
KMS_ALIAS_MAX = 256
KMS_ALIAS_RESERVED_PREFIX = "alias/aws/"
KMS_ALIAS_SOURCE = "kms service model, shape AliasNameType; KMS API Reference, CreateAlias"


def kms_alias_for(bucket_name: str) -> str:
    """The state key's alias, named after the bucket. A bucket name may hold dots, which KMS's alias pattern refuses:
    each becomes '-' (a name without dots keeps the alias it always had, so no deployed alias is replaced)."""
    return "alias/" + bucket_name.replace(".", "-")


def kms_alias_problem(alias: str) -> str | None:
    if len(alias) > KMS_ALIAS_MAX or not KMS_ALIAS_RE.fullmatch(alias):
        return "KMS takes an alias of 'alias/' and 1-250 of [a-zA-Z0-9:/_-]"
    if alias.startswith(KMS_ALIAS_RESERVED_PREFIX):
        return f"aliases under {KMS_ALIAS_RESERVED_PREFIX} are AWS's own"
    return None


# S3 general purpose bucket names: S3 User Guide, "General purpose bucket naming rules"
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). CreateBucket's model shape
# BucketName carries no constraint at all: these are the rules S3 applies.
S3_BUCKET_RULES_SOURCE = "S3 User Guide, General purpose bucket naming rules"
_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$", re.ASCII)
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class NameRule:
    rule: str  # what S3 requires, as its guide says it
    broken_by: Callable[[str], bool]


S3_BUCKET_NAME_RULES: tuple[NameRule, ...] = (
    NameRule("be 3 to 63 characters long", lambda n: not 3 <= len(n) <= 63),
    NameRule("hold only lowercase letters, numbers, dots and hyphens", lambda n: not _BUCKET_CHARS.fullmatch(n)),
    NameRule(
        "begin and end with a letter or number",
        lambda n: bool(n) and not (n[0].isascii() and n[0].isalnum() and n[-1].isascii() and n[-1].isalnum()),
    ),
    NameRule("have no two adjacent periods", lambda n: ".." in n),
    NameRule("not be formatted as an IP address (for example 192.168.5.4)", _is_ip_address),
    NameRule(
        f"not start with {', '.join(S3_RESERVED_PREFIXES)} (reserved)",
        lambda n: n.startswith(S3_RESERVED_PREFIXES),
    ),
    NameRule(
        f"not end with {', '.join(S3_RESERVED_SUFFIXES)} (reserved for access point aliases, Multi-Region "
        "Access Points, directory and table buckets)",
        lambda n: n.endswith(S3_RESERVED_SUFFIXES),
    ),
)


def bucket_name_problem(name: str) -> str | None:
    """The first S3 naming rule this bucket name breaks, or None (S3_BUCKET_RULES_SOURCE says where they come from)."""
    for rule in S3_BUCKET_NAME_RULES:
        if rule.broken_by(name):
            return f"S3 bucket names must {rule.rule}"
    return None


# IAM's CreateOpenIDConnectProvider takes a Url of 1-255 characters (iam service model, OpenIDConnectProviderUrlType).
OIDC_URL_MAX = 255
