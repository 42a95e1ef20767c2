"""A running batch: requests join between chunks of decoding, rows leave when done.

The worker (docdraft.jobs) owns *which* jobs run; the engine owns *how*:

    batch = generator.running_batch()
    batch.admit(job_id, Request(...))     # whenever batch.free_rows() > 0
    for done in batch.advance():          # one chunk of decoding
        store(done.key, done.text)        # a row that ended leaves at once

`admit` validates the prompt at once (ValueError, as `generate` would) and
the request starts decoding at the next `advance`.  `advance` returns the
rows that ended during that chunk; the others keep their place.  The text
of every row is exactly what `generate([request])` gives alone.

`StaticBatch` is the engine-neutral form: everything admitted since the last
advance runs as one `generate` call, which returns them all together (the
batching of a queue drained in turns).  Engines that can let rows join and
leave a running search return their own kind from `running_batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .prompts import PreparedPrompt
from .settings import Request


@dataclass(frozen=True)
class Finished:
    """A row that ended: its key, new token ids and their text."""

    key: Hashable
    ids: list[int]
    text: str


class RunningBatch:
    """What the worker sees of an engine's running batch."""

    def __init__(self, generator, rows: int):
        if rows < 1:
            raise ValueError(f"a running batch needs at least one row, got {rows}")
        self.generator = generator
        self.rows = rows

    def __len__(self) -> int:
        """Rows in flight: admitted and not yet returned by `advance`."""
        raise NotImplementedError

    def keys(self) -> list[Hashable]:
        """The keys of the rows in flight, in the order they were admitted."""
        raise NotImplementedError

    def free_rows(self) -> int:
        return self.rows - len(self)

    def admit(self, key: Hashable, request: Request) -> PreparedPrompt:
        """Take `request` into a free row; it decodes from the next `advance`.
        Returns its prepared prompt (the tokens used, and how many were cut).

        ValueError for a request `generate` would refuse (the row stays
        free); RuntimeError when no row is free or the key is in flight.
        """
        raise NotImplementedError

    def advance(
        self, on_compile: Callable[[list[Hashable]], None] | None = None
    ) -> list[Finished]:
        """Decode one chunk; the rows that ended, in no particular order.

        `on_compile(keys)` is called before a program's first run compiles
        (seconds to a minute), with the keys of the rows that wait for it.
        """
        raise NotImplementedError

    def _check_admit(self, key: Hashable, request: Request) -> PreparedPrompt:
        """The prepared prompt, after the checks every kind shares."""
        if key in self.keys():
            raise RuntimeError(f"{key!r} is already in this batch")
        if not self.free_rows():
            raise RuntimeError("no free row in this batch")
        return self.generator.prepare(request.prompt, request.new_tokens)


class StaticBatch(RunningBatch):
    """Rows admitted between two advances run as one `generate` call."""

    def __init__(self, generator, rows: int):
        super().__init__(generator, rows)
        self._waiting: dict[Hashable, Request] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def keys(self) -> list[Hashable]:
        return list(self._waiting)

    def admit(self, key: Hashable, request: Request) -> PreparedPrompt:
        prepared = self._check_admit(key, request)
        self._waiting[key] = request
        return prepared

    def advance(self, on_compile=None) -> list[Finished]:
        if not self._waiting:
            return []
        keys, requests = list(self._waiting), list(self._waiting.values())

        def compiling(*_program):
            if on_compile:
                on_compile(keys)

        try:
            rows = self.generator.generate_ids(requests, on_compile=compiling)
        finally:
            self._waiting.clear()
        decode = self.generator.tokenizer.decode
        return [
            Finished(key, ids, decode(ids, skip_special_tokens=True))
            for key, ids in zip(keys, rows, strict=True)
        ]
