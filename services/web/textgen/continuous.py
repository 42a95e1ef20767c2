"""Continuous batching for the TF engine: rows join and leave a running search.

A ContinuousBatch holds groups of rows that run in one compiled program: one
mode, one bucket (left padding is masked, so a beam row may sit in a larger
bucket's group; a sampled row keeps its own, see Generator._batch_key).  Each
`advance` first starts the rows admitted since the last one (their prompt
pass and first token, chunked.py) and places them into free rows of a
group, then runs every group for one chunk of `chunk_steps` tokens; a row
that ended during it is handed back at once and its row is free.

Every row runs the search it would run alone, at its own length (search.py:
the loop's condition per row), so its text equals `generate([request])`.

A group's batch size follows the compiled sizes (1, 4, 8): it grows when
new rows need room and shrinks when rows have left and none took their
place by the next advance, by gathering its rows (one copy of the state,
only then); between chunks the state stays where it is (in variables that
each chunk updates in place).  Free rows of
a group still run (their result is dropped).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from .eager import strip_after_eos
from .engine import (
    BATCHED_BUCKET_LIMIT,
    LARGE_BATCH_BUCKET_LIMIT,
    left_pad,
    plan_batches,
)
from .prompts import PreparedPrompt
from .running import Finished, RunningBatch
from .settings import Request

log = logging.getLogger("textgen")

# Tokens per row between two chances to join: a chunk at 124M, 8 rows of 5
# beams, is ~1.7 s on 2 cores, which is how long a new request waits.
DEFAULT_CHUNK_STEPS = 8


@dataclass
class _Row:
    key: Hashable
    request: Request
    prompt: PreparedPrompt


@dataclass
class _Group:
    """Rows of one mode and bucket, run by one program."""

    mode: str
    bucket: int
    sizes: tuple[int, ...]  # the compiled batch sizes it may take
    rows: list[_Row | None] = field(default_factory=list)  # by row index
    state: object = None  # search.RunState of variables (chunked.py)
    cache: object = None  # decode.BeamCache of variables

    def busy(self) -> int:
        return sum(row is not None for row in self.rows)

    def room(self) -> int:
        return self.sizes[-1] - self.busy()


class ContinuousBatch(RunningBatch):
    """Rows join between chunks of decoding and leave as soon as they end."""

    def __init__(self, generator, rows: int, chunk_steps: int = DEFAULT_CHUNK_STEPS):
        super().__init__(generator, rows)
        if chunk_steps < 1:
            raise ValueError(f"chunk_steps must be at least 1, got {chunk_steps}")
        self.chunk_steps = chunk_steps
        self._waiting: list[_Row] = []  # admitted, to start at the next advance
        self._groups: list[_Group] = []
        self._in_flight: dict[Hashable, None] = {}  # keys, in admission order

    def __len__(self) -> int:
        return len(self._in_flight)

    def keys(self) -> list[Hashable]:
        return list(self._in_flight)

    def admit(self, key: Hashable, request: Request) -> PreparedPrompt:
        prompt = self._check_admit(key, request)
        self._waiting.append(_Row(key, request, prompt))
        self._in_flight[key] = None
        return prompt

    def advance(self, on_compile=None) -> list[Finished]:
        """One chunk of every group.  An error (a compile or a run that
        failed) ends every row in flight: the batch is empty after it, as a
        StaticBatch is after a failed `generate`."""
        waiting, self._waiting = self._waiting, []
        try:
            joined = self._place(waiting)
            for group, rows in joined:
                self._join(group, rows, on_compile)
            joining = {id(group) for group, _ in joined}
            for group in self._groups:
                if id(group) not in joining:  # rows left, none came
                    self._resize(group, _fitting_size(group.busy(), group.sizes))
            finished = []
            for group in list(self._groups):
                finished += self._run(group, on_compile)
        except Exception:
            self._groups.clear()
            self._in_flight.clear()
            raise
        return finished

    def _place(self, waiting: list[_Row]) -> list[tuple[_Group, list[_Row]]]:
        """Which group each waiting row joins (new groups as needed).

        The longest prompts are placed first, so that a new group takes the
        widest bucket and the shorter beam prompts join it instead of
        opening groups of their own: one program of 8 rows costs far less
        than two of 4 (engine.py).
        """
        joining: dict[int, tuple[_Group, list[_Row]]] = {}
        for row in sorted(waiting, key=lambda row: -row.prompt.bucket):
            group = self._group_for(row, joining)
            joining.setdefault(id(group), (group, []))[1].append(row)
        return list(joining.values())

    def _group_for(self, row: _Row, joining) -> _Group:
        mode = row.request.mode

        def room(group):
            return group.room() - len(joining.get(id(group), (None, []))[1])

        for group in self._groups:  # larger sizes come once the warm-up has them
            group.sizes = self.generator.continuous_batch_sizes(
                group.bucket, group.mode
            )
        fitting = [
            group
            for group in self._groups
            if group.mode == mode and room(group) > 0 and self._fits(row, group)
        ]
        if fitting:  # the smallest bucket: the least padding to run
            return min(fitting, key=lambda group: group.bucket)
        bucket = self._opening_bucket(row)
        sizes = self.generator.continuous_batch_sizes(bucket, mode)
        group = _Group(mode, bucket, sizes)
        self._groups.append(group)
        return group

    def _opening_bucket(self, row: _Row) -> int:
        """The bucket of a new group for `row`.

        A beam row's group opens at the widest warm bucket that may hold 8
        rows, so that beam prompts admitted later join it instead of opening
        groups of their own: rows arrive a few at a time, and two programs of
        4 rows cost far more than one of 8 (engine.py).  The padding costs a
        few percent a step (attention over it, masked).
        """
        bucket = row.prompt.bucket
        if row.request.mode == "sample" or bucket > LARGE_BATCH_BUCKET_LIMIT:
            return bucket
        program = self.generator.chunk_program(row.request.mode)
        wider = [
            wide
            for wide in self.generator.settings.warm_buckets
            if bucket < wide <= LARGE_BATCH_BUCKET_LIMIT
            and row.prompt.new_tokens <= program.capacity(wide) - wide
        ]
        return max(wider, default=bucket)

    def _fits(self, row: _Row, group: _Group) -> bool:
        """A sampled row runs at its own bucket (its random stream is keyed by
        position); a beam row at any bucket with room for its new tokens."""
        if row.prompt.bucket == group.bucket:
            return True
        if row.request.mode == "sample" or row.prompt.bucket > group.bucket:
            return False
        if row.prompt.bucket <= LARGE_BATCH_BUCKET_LIMIT < group.bucket:
            return False  # a group that may not grow to 8 rows (memory)
        program = self.generator.chunk_program(group.mode)
        room = program.capacity(group.bucket) - group.bucket
        return group.bucket <= BATCHED_BUCKET_LIMIT and row.prompt.new_tokens <= room

    def _join(self, group: _Group, rows: list[_Row], on_compile) -> None:
        """Start `rows` (prompt pass, first token) and place them in free rows."""
        program = self.generator.chunk_program(group.mode)
        size = _fitting_size(group.busy() + len(rows), group.sizes)
        self._resize(group, size)
        free = [index for index, row in enumerate(group.rows) if row is None]
        start = 0
        for count in plan_batches(len(rows), group.sizes):
            batch = rows[start : start + count]
            start += len(batch)
            if on_compile and not program.is_started(count, group.bucket):
                on_compile([row.key for row in batch])
            padded = batch + [batch[-1]] * (count - len(batch))
            state = self._start(program, padded, group.bucket)
            places = free[: len(batch)]
            free = free[len(batch) :]
            self._insert(group, state, places, len(batch))
            for index, row in zip(places, batch, strict=True):
                group.rows[index] = row

    def _start(self, program, rows: list[_Row], bucket: int):
        new_tokens = [row.prompt.new_tokens for row in rows]
        least = self.generator.settings.min_new_tokens
        input_ids, mask = left_pad(
            [row.prompt.ids for row in rows], bucket, program.eos_id
        )
        return program.start(
            input_ids,
            mask,
            new_tokens,
            [min(least, count) for count in new_tokens],
            [row.request.seed or 0 for row in rows],
        )

    def _insert(self, group: _Group, state, places: list[int], count: int) -> None:
        """Write the first `count` rows of `state` into the group's `places`."""
        program = self.generator.chunk_program(group.mode)
        if group.state is None:  # a new group: these rows first, then free ones
            size = len(group.rows)
            order = tf.constant(list(range(count)) + [0] * (size - count), tf.int32)
            state = tf.nest.map_structure(lambda t: tf.gather(t, order), state)
            state = state._replace(live=tf.constant(np.arange(size) < count))
            cache = program.empty_cache(size, group.bucket)
            group.state, group.cache = program.variables(state, cache)
            return
        where = tf.constant([[place] for place in places], tf.int32)
        tf.nest.map_structure(
            lambda variable, new: variable.scatter_nd_update(where, new[:count]),
            group.state,
            state,
        )

    def _resize(self, group: _Group, size: int) -> None:
        """Give `group` `size` rows: its busy rows first, then free ones."""
        if size == len(group.rows):
            return
        busy = [index for index, row in enumerate(group.rows) if row is not None]
        rows = [group.rows[index] for index in busy]
        group.rows = rows + [None] * (size - len(rows))
        if group.state is None:
            return
        # Free rows copy row 0: any real state serves, it is never read.
        order = tf.constant(busy + [0] * (size - len(busy)), tf.int32)
        tf.nest.map_structure(
            lambda variable: variable.assign(tf.gather(variable, order)),
            (group.state, group.cache),
        )
        group.state.live.assign(np.arange(size) < len(busy))
        log.debug("%s group at bucket %d: %d rows", group.mode, group.bucket, size)

    def _run(self, group: _Group, on_compile) -> list[Finished]:
        """One chunk of `group`; the rows that ended leave it."""
        program = self.generator.chunk_program(group.mode)
        if on_compile and not program.is_chunked(len(group.rows), group.bucket):
            on_compile([row.key for row in group.rows if row])
        done, best = program.chunk(
            group.state, group.cache, self.chunk_steps, len(group.rows), group.bucket
        )
        finished = []
        for index in np.flatnonzero(done):
            row = group.rows[index]
            finished.append(self._finished(row, best[index], group.bucket))
            group.rows[index] = None
            del self._in_flight[row.key]
        if not group.busy():
            self._groups.remove(group)
        return finished

    def _finished(self, row: _Row, sequence, bucket: int) -> Finished:
        count = row.prompt.new_tokens
        ids = strip_after_eos(
            sequence[bucket : bucket + count].tolist(), self.generator.eos_id
        )
        text = self.generator.tokenizer.decode(ids, skip_special_tokens=True)
        return Finished(row.key, ids, text)


def _fitting_size(count: int, sizes: tuple[int, ...]) -> int:
    """The smallest compiled size that holds `count` rows."""
    return next((size for size in sizes if size >= count), sizes[-1])
