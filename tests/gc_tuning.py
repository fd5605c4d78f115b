"""A pytest plugin (pyproject.toml: ``-p tests.gc_tuning``): the cyclic garbage collector tuned for this suite.

Most of the suite's time is the real program under Pulumi's mock runtime, which allocates millions of
short-lived objects (asyncio tasks and futures, Outputs, protobuf values) on top of a large long-lived heap
(pulumi_aws, botocore's models, moto). With CPython's defaults a generation-0 collection runs every 700
allocations and the older generations keep re-walking that heap: the 1,000-account run of test_limits.py took
14-16 s of CPU, 9-10 s with this (same peak memory, 383 MB). Only when the collector runs changes; every cycle
is still collected, and no test depends on when.
"""

from __future__ import annotations

import gc


def pytest_configure() -> None:
    # What is imported by now (pytest, conftest's imports) lives for the whole session: out of the collector's
    # sight. New objects are examined every 50,000 allocations instead of 700.
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
