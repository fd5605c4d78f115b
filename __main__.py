"""iam-federation: load and validate the stack config, build the topology, export the outputs."""

import pulumi

from federation.config import ConfigError
from federation.load import load_config
from federation.stack_config import stack_config
from federation.topology import build_topology

try:
    config = load_config(stack_config())
except ConfigError as error:
    # RunError prints the message alone: the user needs the bad keys, not a traceback.
    raise pulumi.RunError(str(error)) from None

for name, value in build_topology(config).outputs.items():
    pulumi.export(name, value)
