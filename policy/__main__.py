"""Entry point of the CrossGuard pack: `pulumi preview --policy-pack policy`.

Constructing PolicyPack starts the analyzer server, so nothing but this file does it; the rules live in rules.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pulumi_policy import PolicyPack
from rules import policies

PolicyPack(name="iam-federation-guard", policies=policies())
