"""Run the project's stacks in order: the shared (or complete) stacks first, then the member stacks, with
parallelism bounded by a memory budget (see orchestrate/schedule.py and docs/orchestrate.md)."""
