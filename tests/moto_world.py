"""moto worlds for tests: one shared by the tests that only read it, a fresh one for each test that writes.

moto keeps one global state, and a ``mock_aws`` nested in another neither resets it nor gets its own, so two
worlds cannot be open at once. ``MotoWorlds`` holds at most one: ``shared(run)`` returns the open world of that
run, building it on first use; ``fresh(run)`` closes the shared world (the next ``shared`` call rebuilds it) and
opens a new one for the caller alone. Whatever order pytest runs the tests in, a reader never sees a writer's
changes; in file order the shared world is built once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from plan.materialize import Materialized, moto_world
from plan.runner import ProgramRun


class MotoWorlds:
    """At most one open moto world, shared between read-only tests until a writer needs its own."""

    def __init__(self) -> None:
        self._open: tuple[ProgramRun, ExitStack, Materialized] | None = None
        self.builds = 0

    def shared(self, run: ProgramRun) -> Materialized:
        """The open world of ``run``; the caller must not change it."""
        if self._open is not None and self._open[0] is run:
            return self._open[2]
        self.close()
        stack = ExitStack()
        world = stack.enter_context(moto_world(run))
        self.builds += 1
        self._open = (run, stack, world)
        return world

    @contextmanager
    def fresh(self, run: ProgramRun) -> Iterator[Materialized]:
        """A world of ``run`` for the caller alone, dropped on exit."""
        self.close()
        with moto_world(run) as world:
            self.builds += 1
            yield world

    def close(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None
