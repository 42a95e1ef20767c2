"""Beam search and sampling loops with run-time lengths, for XLA.

transformers' TF `beam_search` fixes the number of new tokens at trace time
(the output buffer *and* the loop bound are `max_length`), so every length
would be one more compiled program.  These loops keep a fixed buffer of
`capacity` tokens (the shape XLA needs) but stop at `stop_len`, a tensor:
one program serves short, medium and long suggestions.

Nothing about the inputs' shape is fixed when tracing: the batch size, the
prompt length and the buffer (`capacity`) are tensors, which XLA sees as
constants when it compiles the program for one batch size and bucket
(program.py).

`beam_search` is transformers 4.57's TF beam search (Apache-2.0, The
HuggingFace Team) cut down to what a decoder-only GPT-2 needs, with the loop
bound made a tensor; every scoring rule is kept as it is there, which is
what keeps the tokens equal to eager `generate` (tests/textgen check it).
The model runs through decode.py: the prompt once per document (not once
per beam), and a key/value cache that stays where it was written, so that
following a beam gathers a small table instead of copying its whole history.

`sample_search` is greedy search when `seeds` is None, otherwise nucleus
sampling where each row draws from its own stateless random stream keyed by
(seed, position): a row's text depends only on its prompt and seed, not on
what else was in the batch, so a recorded seed reproduces a suggestion.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from . import decode

_NEG = -1.0e9


class BeamRows(NamedTuple):
    """The search's own state per document (the cache aside)."""

    running_sequences: tf.Tensor  # [batch, beams, capacity]
    running_scores: tf.Tensor  # [batch, beams]
    sequences: tf.Tensor  # [batch, beams, capacity]: finished hypotheses
    scores: tf.Tensor  # [batch, beams]
    finished: tf.Tensor  # [batch, beams]


def beam_start(input_ids, num_beams: int, capacity, eos_id: int) -> BeamRows:
    """The rows before the first token: one live beam per document."""
    batch_size = tf.shape(input_ids)[0]
    prompt_len = tf.shape(input_ids)[1]
    expanded = tf.broadcast_to(input_ids[:, None], (batch_size, num_beams, prompt_len))
    return BeamRows(
        running_sequences=tf.concat(
            [
                expanded,
                tf.fill((batch_size, num_beams, capacity - prompt_len), eos_id),
            ],
            axis=-1,
        ),
        running_scores=tf.tile(
            tf.constant([[0.0] + [_NEG] * (num_beams - 1)]), [batch_size, 1]
        ),
        sequences=tf.fill((batch_size, num_beams, capacity), eos_id),
        scores=tf.fill((batch_size, num_beams), _NEG),
        finished=tf.zeros((batch_size, num_beams), dtype=tf.bool),
    )


def beam_select(
    model,
    processors,
    eos_id: int,
    early_stopping: bool,
    prompt_len,
    cur_len,
    rows,
    logits,
):
    """One token for every row: (the rows after it, the parent beam of each
    kept beam [batch, beams]).  `cur_len` [batch] is each row's length (the
    position the token is written at), `logits` [batch * beams, vocab]."""
    batch_size, num_beams = tf.shape(rows.scores)[0], rows.scores.shape[1]

    def flat(tensor):  # [batch, beams, ...] -> [batch * beams, ...]
        return tf.reshape(tensor, tf.concat([[-1], tf.shape(tensor)[2:]], axis=0))

    def unflat(tensor):  # [batch * beams, ...] -> [batch, beams, ...]
        return tf.reshape(
            tensor, tf.concat([[-1, num_beams], tf.shape(tensor)[1:]], axis=0)
        )

    log_probs = tf.nn.log_softmax(unflat(logits))
    log_probs = processors(
        flat(rows.running_sequences), flat(log_probs), tf.repeat(cur_len, num_beams)
    )
    log_probs = unflat(log_probs) + tf.expand_dims(rows.running_scores, axis=2)
    vocab_size = log_probs.shape[2]
    log_probs = tf.reshape(log_probs, (batch_size, num_beams * vocab_size))

    # The top 2k candidates, so that k stay running even if k just ended.
    beams_to_keep = 2 * num_beams
    topk_log_probs, topk_indices = tf.math.top_k(log_probs, k=beams_to_keep)
    topk_current_beam_indices = topk_indices // vocab_size
    topk_running_sequences = model._gather_beams(
        rows.running_sequences, topk_current_beam_indices
    )
    topk_ids = topk_indices % vocab_size
    indices_batch = tf.repeat(tf.range(batch_size), beams_to_keep)
    indices_beam = tf.tile(tf.range(beams_to_keep), [batch_size])
    # A row at the end of the buffer (only ever a frozen one: continuous.py)
    # writes its last position again, not past the end.
    at = tf.minimum(cur_len, tf.shape(rows.running_sequences)[2] - 1)
    update_indices = tf.stack(
        [indices_batch, indices_beam, tf.repeat(at, beams_to_keep)], axis=-1
    )
    topk_sequences = tf.tensor_scatter_nd_update(
        topk_running_sequences,
        update_indices,
        tf.reshape(topk_ids, [batch_size * beams_to_keep]),
    )

    eos_in_next_token = tf.equal(topk_ids, eos_id)
    did_topk_just_finished = eos_in_next_token & tf.broadcast_to(
        tf.concat(
            (tf.ones(num_beams, dtype=tf.bool), tf.zeros(num_beams, dtype=tf.bool)),
            axis=0,
        ),
        tf.shape(eos_in_next_token),
    )
    running_topk_log_probs = (
        topk_log_probs + tf.cast(eos_in_next_token, tf.float32) * _NEG
    )
    next_topk_indices = tf.math.top_k(running_topk_log_probs, k=num_beams)[1]
    next_running_sequences, next_running_scores = model._gather_beams(
        [topk_sequences, running_topk_log_probs], next_topk_indices
    )

    # Length penalty 1.0: a finished beam scores its mean log-probability.
    new_len = tf.cast(cur_len + 1 - prompt_len, tf.float32)[:, None]
    topk_log_probs = topk_log_probs / new_len
    beams_in_batch_are_full = (
        tf.broadcast_to(
            tf.math.reduce_all(rows.finished, axis=-1, keepdims=True),
            tf.shape(did_topk_just_finished),
        )
        & early_stopping
    )
    add_penalty = ~did_topk_just_finished | beams_in_batch_are_full
    topk_log_probs += tf.cast(add_penalty, tf.float32) * _NEG

    merged_sequences = tf.concat([rows.sequences, topk_sequences], axis=1)
    merged_scores = tf.concat([rows.scores, topk_log_probs], axis=1)
    merged_finished = tf.concat([rows.finished, did_topk_just_finished], axis=1)
    topk_merged_indices = tf.math.top_k(merged_scores, k=num_beams)[1]
    next_sequences, next_scores, next_finished = model._gather_beams(
        [merged_sequences, merged_scores, merged_finished], topk_merged_indices
    )
    # Each surviving beam follows its parent: only the table of which
    # slot holds which step's keys and values is gathered (decode.py).
    parents = model._gather_beams(topk_current_beam_indices, next_topk_indices)
    rows = BeamRows(
        next_running_sequences,
        next_running_scores,
        next_sequences,
        next_scores,
        next_finished,
    )
    return rows, parents


def beam_open(rows: BeamRows, cur_len, stop_len, prompt_len, early_stopping: bool):
    """[batch] bool: the rows whose search goes on (the loop's condition, per row)."""
    best_running_score = (
        rows.running_scores[:, :1] / tf.cast(cur_len - prompt_len, tf.float32)[:, None]
    )
    worst_finished_score = tf.where(
        rows.finished, tf.math.reduce_min(rows.scores, axis=1, keepdims=True), _NEG
    )
    improvement_still_possible = tf.math.reduce_any(
        best_running_score > worst_finished_score, axis=1
    )
    still_open_beam = ~(tf.math.reduce_all(rows.finished, axis=1) & early_stopping)
    return (cur_len < stop_len) & still_open_beam & improvement_still_possible


def beam_best(rows: BeamRows):
    """[batch, capacity]: the best finished beam, or the best running one of a
    row with none finished."""
    any_finished = tf.math.reduce_any(rows.finished, axis=1)
    best = tf.where(any_finished[:, None, None], rows.sequences, rows.running_sequences)
    return best[:, 0]


def beam_search(
    model,
    input_ids,
    attention_mask,
    *,
    capacity: int,
    stop_len,
    processors,
    num_beams: int,
    eos_id: int,
    early_stopping: bool,
):
    """[batch, capacity] ids: the best beam per row, prompt included, EOS-padded."""
    batch_size = tf.shape(input_ids)[0]
    prompt_len = tf.shape(input_ids)[1]
    prompt_logits, prompt = decode.prompt_pass(model, input_ids, attention_mask)
    new_len = capacity - prompt_len

    def cond(cur_len, rows, cache):
        not_max_length_yet = cur_len < stop_len
        best_running_score = rows.running_scores[:, :1] / tf.cast(
            cur_len - prompt_len, tf.float32
        )
        worst_finished_score = tf.where(
            rows.finished, tf.math.reduce_min(rows.scores, axis=1, keepdims=True), _NEG
        )
        improvement_still_possible = tf.math.reduce_any(
            best_running_score > worst_finished_score
        )
        still_open_beam = ~(tf.math.reduce_all(rows.finished) & early_stopping)
        return not_max_length_yet & still_open_beam & improvement_still_possible

    def select(cur_len, rows, cache, logits):
        rows, parents = beam_select(
            model,
            processors,
            eos_id,
            early_stopping,
            prompt_len,
            tf.fill([batch_size], cur_len),
            rows,
            logits,
        )
        return cur_len + 1, rows, decode.follow_beams(cache, parents)

    def body(cur_len, rows, cache):
        tokens = rows.running_sequences[:, :, cur_len - 1]
        logits, cache = decode.decode_step(
            model, tokens, cur_len - 1 - prompt_len, prompt, cache
        )
        return select(cur_len, rows, cache, logits)

    # The first step runs outside the loop, on the prompt's logits.
    state = select(
        prompt_len,
        beam_start(input_ids, num_beams, capacity, eos_id),
        decode.empty_cache(model, batch_size, num_beams, new_len),
        tf.repeat(prompt_logits, num_beams, axis=0),
    )
    _, rows, _ = tf.while_loop(cond, body, state, maximum_iterations=new_len - 1)
    return beam_best(rows)


def sample_choose(
    processors,
    eos_id: int,
    cur_len,
    sequences,
    finished,
    logits,
    seeds=None,
    warpers=None,
):
    """One token per row, written at its `cur_len` [batch]: (sequences, finished).

    Greedy when `seeds` is None; otherwise each row draws from its own
    stateless random stream keyed by (seed, position), with Gumbel-max:
    argmax(scores + Gumbel noise) is a draw from softmax(scores).
    """
    batch_size = tf.shape(sequences)[0]
    scores = processors(sequences, logits, cur_len)
    if seeds is None:
        picked = tf.argmax(scores, axis=-1, output_type=tf.int32)
    else:
        scores = warpers(sequences, scores, cur_len)
        vocab_size = scores.shape[-1]
        noise = tf.map_fn(
            lambda seed_len: tf.random.stateless_uniform(
                [vocab_size], seed=tf.stack(seed_len), minval=1e-20, maxval=1.0
            ),
            (seeds, cur_len),
            fn_output_signature=tf.float32,
        )
        gumbel = -tf.math.log(-tf.math.log(noise))
        picked = tf.argmax(scores + gumbel, axis=-1, output_type=tf.int32)
    next_tokens = tf.where(finished, eos_id, picked)
    finished = finished | tf.equal(next_tokens, eos_id)
    # A row at the end of the buffer (only ever a frozen one: continuous.py)
    # writes its last position again, not past the end.
    at = tf.minimum(cur_len, tf.shape(sequences)[1] - 1)
    update = tf.stack([tf.range(batch_size), at], axis=-1)
    return tf.tensor_scatter_nd_update(sequences, update, next_tokens), finished


def sample_search(
    model,
    input_ids,
    attention_mask,
    *,
    capacity: int,
    stop_len,
    processors,
    eos_id: int,
    seeds=None,
    warpers=None,
):
    """[batch, capacity] ids: greedy (seeds None) or sampled, EOS-padded."""
    batch_size = tf.shape(input_ids)[0]
    prompt_len = tf.shape(input_ids)[1]
    sequences = tf.concat(
        [input_ids, tf.fill((batch_size, capacity - prompt_len), eos_id)], axis=-1
    )
    finished = tf.zeros((batch_size,), dtype=tf.bool)

    def cond(cur_len, sequences, finished, cache):
        return (cur_len < stop_len) & ~tf.math.reduce_all(finished)

    def choose(cur_len, sequences, finished, cache, logits):
        sequences, finished = sample_choose(
            processors,
            eos_id,
            tf.fill([batch_size], cur_len),
            sequences,
            finished,
            logits,
            seeds,
            warpers,
        )
        return cur_len + 1, sequences, finished, cache

    def body(cur_len, sequences, finished, cache):
        tokens = tf.expand_dims(sequences[:, cur_len - 1], -1)
        logits, cache = decode.decode_step(
            model, tokens, cur_len - 1 - prompt_len, prompt, cache
        )
        return choose(cur_len, sequences, finished, cache, logits)

    prompt_logits, prompt = decode.prompt_pass(model, input_ids, attention_mask)
    new_len = capacity - prompt_len
    cache = decode.empty_cache(model, batch_size, 1, new_len)
    state = choose(prompt_len, sequences, finished, cache, prompt_logits)
    _, sequences, _, _ = tf.while_loop(
        cond, body, state, maximum_iterations=new_len - 1
    )
    return sequences


# Continuous batching (continuous.py): rows that started at different times
# run in one batch, each at its own length.  A row's search is the one above
# with the loop's condition taken per row: a row whose condition fails is
# frozen (its state no longer changes) until the batch hands it back, so it
# ends exactly where it would have ended alone.


class SampleRows(NamedTuple):
    """Greedy or sampled search's own state per row."""

    sequences: tf.Tensor  # [batch, capacity]
    finished: tf.Tensor  # [batch]


class RunState(NamedTuple):
    """A running batch's rows, between chunks (the new tokens' cache aside)."""

    cur_len: tf.Tensor  # [batch]: where each row writes its next token
    stop_len: tf.Tensor  # [batch]: the bucket plus the row's new tokens
    min_len: tf.Tensor  # [batch]: no EOS before it
    seeds: tf.Tensor  # [batch]: sample mode's random streams
    live: tf.Tensor  # [batch] bool: the row holds a request not yet handed back
    search: BeamRows | SampleRows
    prompt: decode.PromptCache


def start_rows(
    model, input_ids, attention_mask, stop_len, min_len, seeds, *, first, num_beams
):
    """The RunState of new rows after their prompt pass and first token.

    `first(prompt_len, rows, logits)` picks that token: beam_select or
    sample_choose with the program's processors (program.py).
    """
    prompt_logits, prompt = decode.prompt_pass(model, input_ids, attention_mask)
    prompt_len = tf.shape(input_ids)[1]
    if num_beams:
        prompt_logits = tf.repeat(prompt_logits, num_beams, axis=0)
    search = first(prompt_len, prompt_logits)
    return RunState(
        cur_len=tf.fill(tf.shape(stop_len), prompt_len + 1),
        stop_len=stop_len,
        min_len=min_len,
        seeds=seeds,
        live=tf.ones(tf.shape(stop_len), tf.bool),
        search=search,
        prompt=prompt,
    )


def run_chunk(model, state: RunState, cache, steps, *, select, still_open):
    """Up to `steps` tokens for every live row: (state, cache, done [batch]).

    `select(state, logits)` -> (search, parents or None) takes one token for
    every row; `still_open(state)` [batch] is a row's loop condition.  Rows
    that are done leave `live` (done says which); their text is frozen.
    """
    prompt_len = tf.shape(state.prompt.mask)[3]

    def active(state):
        return state.live & still_open(state)

    def body(state, cache):
        moving = active(state)
        # A frozen row decodes its first position again (its result is
        # dropped): a stale long row would otherwise make every row's
        # attention read its chunks.
        steps = tf.where(moving, state.cur_len - 1 - prompt_len, 0)
        logits, cache = decode.decode_step(
            model,
            _last_tokens(state.search, steps + prompt_len),
            steps,
            state.prompt,
            cache,
        )
        search, parents = select(state, logits)
        if parents is not None:
            cache = decode.follow_beams(cache, parents)
        search = tf.nest.map_structure(
            lambda new, old: tf.where(_rows_mask(moving, new), new, old),
            search,
            state.search,
        )
        cur_len = tf.where(moving, state.cur_len + 1, state.cur_len)
        return state._replace(cur_len=cur_len, search=search), cache

    state, cache = tf.while_loop(
        lambda state, cache: tf.reduce_any(active(state)),
        body,
        (state, cache),
        maximum_iterations=steps,
    )
    done = state.live & ~still_open(state)
    return state._replace(live=state.live & ~done), cache, done


def _last_tokens(search, positions):
    """[batch, beams] (or [batch, 1]): each row's token at `positions` [batch]."""
    if isinstance(search, BeamRows):
        return tf.gather(search.running_sequences, positions, axis=2, batch_dims=1)
    return tf.gather(search.sequences, positions, axis=1, batch_dims=1)[:, None]


def _rows_mask(rows, tensor):
    """[batch] bool reshaped to broadcast against `tensor` [batch, ...]."""
    return tf.reshape(rows, [-1] + [1] * (len(tensor.shape) - 1))
