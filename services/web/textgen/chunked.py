"""A mode's programs for a running batch (continuous.py), compiled with XLA.

Two functions per mode, each traced once and compiled per (rows, bucket)
like the one-shot program (program.py):

- `start`: new rows' prompt pass and first token, as a RunState (search.py);
- `chunk`: up to `steps` more tokens for every live row of a batch, each
  at its own length; rows that ended leave the batch's `live` rows.

The state between chunks is the search's own (small) plus the prompts' keys
and values and the new tokens' cache (large).  A batch keeps it in
variables (`variables`) that `chunk` updates in place: XLA reuses a
variable's buffer for its new value, where a tensor passed in and returned
would be copied whole at every chunk (at 124M, 8 rows: a 660 MB cache,
75 ms, a tenth of a chunk of 8 steps).  Their shapes are left open, so
one trace serves every batch size and bucket, and a batch that grows or
shrinks assigns them new values.
"""

from __future__ import annotations

import tensorflow as tf

from . import decode
from .program import logits_processors, sample_warpers
from .search import (
    BeamRows,
    RunState,
    SampleRows,
    beam_best,
    beam_open,
    beam_select,
    beam_start,
    run_chunk,
    sample_choose,
    start_rows,
)


class ChunkProgram:
    """Start rows and run chunks of one mode, for every batch size and bucket."""

    def __init__(self, model, settings, mode: str, n_positions: int, eos_id: int, jit):
        self.model = model
        self.settings = settings
        self.mode = mode
        self.n_positions = n_positions
        self.eos_id = eos_id
        self.jit = jit
        # 0: one row per document (sampling, or greedy search with one beam).
        beams = settings.num_beams if mode == "beam" else 1
        self.beams = beams if beams > 1 else 0
        self.started: set[tuple[int, int]] = set()  # (rows, bucket)
        self.chunked: set[tuple[int, int]] = set()  # (batch size, bucket)
        ids = tf.TensorSpec((None, None), tf.int32)
        rows = tf.TensorSpec((None,), tf.int32)
        self._start_fn = self._jit(self._start, [ids, ids, rows, rows, rows])
        # Variables carry no input signature: one trace for every shape.
        self._chunk_fn = self._jit(self._chunk_in_place, None)
        self._shapes = None  # the state's and cache's static dimensions

    def capacity(self, bucket: int) -> int:
        """The output buffer of a batch at `bucket` (as program.py sizes it)."""
        return min(bucket + self.settings.most_new_tokens, self.n_positions)

    def start(self, input_ids, attention_mask, new_tokens, min_new_tokens, seeds):
        """The RunState of new rows [rows, bucket] (left-padded)."""
        state = self._start_fn(
            *(tf.constant(x, tf.int32) for x in (input_ids, attention_mask)),
            *(tf.constant(x, tf.int32) for x in (new_tokens, min_new_tokens, seeds)),
        )
        self.started.add(tuple(input_ids.shape))
        return state

    def empty_cache(self, batch_size: int, bucket: int) -> decode.BeamCache:
        """The new tokens' cache of a batch of `batch_size` rows at `bucket`."""
        new_len = self.capacity(bucket) - bucket
        return decode.empty_cache(self.model, batch_size, self.beams or 1, new_len)

    def variables(self, state: RunState, cache: decode.BeamCache):
        """(state, cache) as variables of open shape, for `chunk`."""
        if self._shapes is None:
            self._shapes = (_open_shapes(state), _open_cache(cache))
        return tf.nest.map_structure(
            lambda tensor: tf.Variable(
                tensor, shape=tf.TensorShape(None), trainable=False
            ),
            (state, cache),
        )

    def chunk(self, state, cache, steps: int, size: int, bucket: int):
        """Up to `steps` tokens for the live rows of the batch held in the
        variables `state` and `cache` (of `size` rows at `bucket`), updated in
        place: (done [batch] bool array, best [batch, capacity] ids)."""
        done, best = self._chunk_fn(state, cache, tf.constant(steps))
        self.chunked.add((size, bucket))
        return done.numpy(), best.numpy()

    def is_started(self, rows: int, bucket: int) -> bool:
        return not self.jit or (rows, bucket) in self.started

    def is_chunked(self, batch_size: int, bucket: int) -> bool:
        return not self.jit or (batch_size, bucket) in self.chunked

    def _jit(self, function, signature):
        if not self.jit:  # eager: debugging, reference checks
            return function
        return tf.function(
            function, jit_compile=True, autograph=False, input_signature=signature
        )

    def _processors(self, min_len, starts):
        if self.beams:  # beam search flattens [batch, beams] rows batch-major
            min_len = tf.repeat(min_len, self.beams)
            starts = tf.repeat(starts, self.beams)
        return logits_processors(self.settings, self.eos_id, min_len, starts)

    def _seeds(self, seeds):
        return seeds if self.mode == "sample" else None

    def _start(self, input_ids, attention_mask, new_tokens, min_new_tokens, seeds):
        batch_size = tf.shape(input_ids)[0]
        bucket = tf.shape(input_ids)[1]
        capacity = tf.minimum(bucket + self.settings.most_new_tokens, self.n_positions)
        min_len = bucket + min_new_tokens
        starts = bucket - tf.reduce_sum(attention_mask, axis=1)
        processors = self._processors(min_len, starts)
        cur_len = tf.fill([batch_size], bucket)
        if self.beams:
            rows = beam_start(input_ids, self.beams, capacity, self.eos_id)

            def first(prompt_len, logits):
                return beam_select(
                    self.model,
                    processors,
                    self.eos_id,
                    self.settings.early_stopping,
                    prompt_len,
                    cur_len,
                    rows,
                    logits,
                )[0]

        else:
            sequences = tf.concat(
                [input_ids, tf.fill((batch_size, capacity - bucket), self.eos_id)], -1
            )

            def first(prompt_len, logits):
                return SampleRows(
                    *sample_choose(
                        processors,
                        self.eos_id,
                        cur_len,
                        sequences,
                        tf.zeros((batch_size,), tf.bool),
                        logits,
                        self._seeds(seeds),
                        sample_warpers(self.settings),
                    )
                )

        return start_rows(
            self.model,
            input_ids,
            attention_mask,
            bucket + new_tokens,
            min_len,
            seeds,
            first=first,
            num_beams=self.beams,
        )

    def _chunk_in_place(self, state_variables, cache_variables, steps):
        state, cache = tf.nest.map_structure(
            lambda variable, spec: tf.ensure_shape(variable.read_value(), spec.shape),
            (state_variables, cache_variables),
            self._shapes,
        )
        state, cache, done, best = self._chunk(state, cache, steps)
        tf.nest.map_structure(
            lambda variable, tensor: variable.assign(tensor),
            (state_variables, cache_variables),
            (state, cache),
        )
        return done, best

    def _chunk(self, state: RunState, cache, steps):
        bucket = tf.shape(state.prompt.mask)[3]
        processors = self._processors(state.min_len, bucket - state.prompt.lengths)
        early_stopping = self.settings.early_stopping
        if self.beams:

            def select(state, logits):
                return beam_select(
                    self.model,
                    processors,
                    self.eos_id,
                    early_stopping,
                    bucket,
                    state.cur_len,
                    state.search,
                    logits,
                )

            def still_open(state):
                return beam_open(
                    state.search, state.cur_len, state.stop_len, bucket, early_stopping
                )

        else:
            warpers = sample_warpers(self.settings)

            def select(state, logits):
                rows = sample_choose(
                    processors,
                    self.eos_id,
                    state.cur_len,
                    *state.search,
                    logits,
                    self._seeds(state.seeds),
                    warpers,
                )
                return SampleRows(*rows), None

            def still_open(state):
                return (state.cur_len < state.stop_len) & ~state.search.finished

        state, cache, done = run_chunk(
            self.model, state, cache, steps, select=select, still_open=still_open
        )
        best = beam_best(state.search) if self.beams else state.search.sequences
        return state, cache, done, best


def _spec(tensor, *open_axes):
    """A TensorSpec of `tensor` with the batch axis and `open_axes` left open."""
    shape = tensor.shape.as_list()
    for axis in (0, *open_axes):
        shape[axis] = None
    return tf.TensorSpec(shape, tensor.dtype)


def _open_shapes(state: RunState) -> RunState:
    """The state's signature: the batch size, bucket and buffer left open."""
    search = state.search
    if isinstance(search, BeamRows):
        search = BeamRows(
            _spec(search.running_sequences, 2),
            _spec(search.running_scores),
            _spec(search.sequences, 2),
            _spec(search.scores),
            _spec(search.finished),
        )
    else:
        search = SampleRows(_spec(search.sequences, 1), _spec(search.finished))
    prompt = state.prompt
    return RunState(
        *(_spec(t) for t in state[:5]),
        search=search,
        prompt=decode.PromptCache(
            keys=[_spec(k, 2) for k in prompt.keys],
            values=[_spec(v, 2) for v in prompt.values],
            mask=_spec(prompt.mask, 3),
            lengths=_spec(prompt.lengths),
        ),
    )


def _open_cache(cache: decode.BeamCache) -> decode.BeamCache:
    return decode.BeamCache(
        keys=[_spec(k, 1) for k in cache.keys],
        values=[_spec(v, 1) for v in cache.values],
        origin=_spec(cache.origin, 2),
    )
