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

import tensorflow as tf

from . import decode

_NEG = -1.0e9


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

    def flat(tensor):  # [batch, beams, ...] -> [batch * beams, ...]
        return tf.reshape(tensor, tf.concat([[-1], tf.shape(tensor)[2:]], axis=0))

    def unflat(tensor):  # [batch * beams, ...] -> [batch, beams, ...]
        return tf.reshape(
            tensor, tf.concat([[-1, num_beams], tf.shape(tensor)[1:]], axis=0)
        )

    expanded = tf.broadcast_to(input_ids[:, None], (batch_size, num_beams, prompt_len))
    running_sequences = tf.concat(
        [
            expanded,
            tf.fill((batch_size, num_beams, capacity - prompt_len), eos_id),
        ],
        axis=-1,
    )
    sequences = tf.fill((batch_size, num_beams, capacity), eos_id)
    is_sent_finished = tf.zeros((batch_size, num_beams), dtype=tf.bool)
    running_scores = tf.tile(
        tf.constant([[0.0] + [_NEG] * (num_beams - 1)]), [batch_size, 1]
    )
    scores = tf.fill((batch_size, num_beams), _NEG)
    prompt_logits, prompt = decode.prompt_pass(model, input_ids, attention_mask)
    new_len = capacity - prompt_len

    def cond(
        cur_len, running_sequences, running_scores, sequences, scores, finished, cache
    ):
        not_max_length_yet = cur_len < stop_len
        best_running_score = running_scores[:, :1] / tf.cast(
            cur_len - prompt_len, tf.float32
        )
        worst_finished_score = tf.where(
            finished, tf.math.reduce_min(scores, axis=1, keepdims=True), _NEG
        )
        improvement_still_possible = tf.math.reduce_any(
            best_running_score > worst_finished_score
        )
        still_open_beam = ~(tf.math.reduce_all(finished) & early_stopping)
        return not_max_length_yet & still_open_beam & improvement_still_possible

    def select(
        cur_len,
        running_sequences,
        running_scores,
        sequences,
        scores,
        finished,
        cache,
        logits,
    ):
        log_probs = tf.nn.log_softmax(unflat(logits))
        log_probs = processors(flat(running_sequences), flat(log_probs), cur_len)
        log_probs = unflat(log_probs) + tf.expand_dims(running_scores, axis=2)
        vocab_size = log_probs.shape[2]
        log_probs = tf.reshape(log_probs, (batch_size, num_beams * vocab_size))

        # The top 2k candidates, so that k stay running even if k just ended.
        beams_to_keep = 2 * num_beams
        topk_log_probs, topk_indices = tf.math.top_k(log_probs, k=beams_to_keep)
        topk_current_beam_indices = topk_indices // vocab_size
        topk_running_sequences = model._gather_beams(
            running_sequences, topk_current_beam_indices
        )
        topk_ids = topk_indices % vocab_size
        indices_batch = tf.repeat(tf.range(batch_size), beams_to_keep)
        indices_beam = tf.tile(tf.range(beams_to_keep), [batch_size])
        update_indices = tf.stack(
            [
                indices_batch,
                indices_beam,
                tf.broadcast_to(cur_len, [batch_size * beams_to_keep]),
            ],
            axis=-1,
        )
        topk_sequences = tf.tensor_scatter_nd_update(
            topk_running_sequences,
            update_indices,
            tf.reshape(topk_ids, [batch_size * beams_to_keep]),
        )

        eos_in_next_token = tf.equal(topk_sequences[:, :, cur_len], eos_id)
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
        topk_log_probs = topk_log_probs / tf.cast(cur_len + 1 - prompt_len, tf.float32)
        beams_in_batch_are_full = (
            tf.broadcast_to(
                tf.math.reduce_all(finished, axis=-1, keepdims=True),
                tf.shape(did_topk_just_finished),
            )
            & early_stopping
        )
        add_penalty = ~did_topk_just_finished | beams_in_batch_are_full
        topk_log_probs += tf.cast(add_penalty, tf.float32) * _NEG

        merged_sequences = tf.concat([sequences, topk_sequences], axis=1)
        merged_scores = tf.concat([scores, topk_log_probs], axis=1)
        merged_finished = tf.concat([finished, did_topk_just_finished], axis=1)
        topk_merged_indices = tf.math.top_k(merged_scores, k=num_beams)[1]
        next_sequences, next_scores, next_finished = model._gather_beams(
            [merged_sequences, merged_scores, merged_finished], topk_merged_indices
        )

        cur_len = cur_len + 1
        # Each surviving beam follows its parent: only the table of which
        # slot holds which step's keys and values is gathered (decode.py).
        parents = model._gather_beams(topk_current_beam_indices, next_topk_indices)
        return (
            cur_len,
            next_running_sequences,
            next_running_scores,
            next_sequences,
            next_scores,
            next_finished,
            decode.follow_beams(cache, parents),
        )

    def body(cur_len, running_sequences, *state):
        tokens = running_sequences[:, :, cur_len - 1]
        cache = state[-1]
        logits, cache = decode.decode_step(
            model, tokens, cur_len - 1 - prompt_len, prompt, cache
        )
        return select(cur_len, running_sequences, *state[:-1], cache, logits)

    # The first step runs outside the loop, on the prompt's logits.
    state = select(
        prompt_len,
        running_sequences,
        running_scores,
        sequences,
        scores,
        is_sent_finished,
        decode.empty_cache(model, batch_size, num_beams, new_len),
        tf.repeat(prompt_logits, num_beams, axis=0),
    )
    cur_len, running_sequences, running_scores, sequences, scores, finished, _ = (
        tf.while_loop(cond, body, state, maximum_iterations=new_len - 1)
    )
    # A row with no finished beam returns its best running one.
    none_finished = tf.math.reduce_any(finished, axis=1)
    sequences = tf.where(none_finished[:, None, None], sequences, running_sequences)
    return sequences[:, 0]


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

    def pick(sequences, scores, cur_len):
        if seeds is None:
            return tf.argmax(scores, axis=-1, output_type=tf.int32)
        scores = warpers(sequences, scores, cur_len)
        # Gumbel-max: argmax(scores + Gumbel noise) is a draw from softmax(scores).
        vocab_size = scores.shape[-1]
        noise = tf.map_fn(
            lambda seed: tf.random.stateless_uniform(
                [vocab_size], seed=tf.stack([seed, cur_len]), minval=1e-20, maxval=1.0
            ),
            seeds,
            fn_output_signature=tf.float32,
        )
        gumbel = -tf.math.log(-tf.math.log(noise))
        return tf.argmax(scores + gumbel, axis=-1, output_type=tf.int32)

    def cond(cur_len, sequences, finished, cache):
        return (cur_len < stop_len) & ~tf.math.reduce_all(finished)

    def choose(cur_len, sequences, finished, cache, logits):
        scores = processors(sequences, logits, cur_len)
        next_tokens = tf.where(finished, eos_id, pick(sequences, scores, cur_len))
        finished = finished | tf.equal(next_tokens, eos_id)
        update = tf.stack(
            [tf.range(batch_size), tf.broadcast_to(cur_len, [batch_size])], axis=-1
        )
        sequences = tf.tensor_scatter_nd_update(sequences, update, next_tokens)
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
