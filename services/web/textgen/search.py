"""Beam search and sampling loops with run-time lengths, for XLA.

transformers' TF `beam_search` fixes the number of new tokens at trace time
(the output buffer *and* the loop bound are `max_length`), so every length
would be one more compiled program.  These loops keep a fixed buffer of
`capacity` tokens (the shape XLA needs) but stop at `stop_len`, a tensor:
one program serves short, medium and long suggestions.

`beam_search` is transformers 4.57's TF beam search (Apache-2.0, The
HuggingFace Team) cut down to what a decoder-only GPT-2 needs, with the loop
bound made a tensor; every scoring rule is kept as it is there, which is
what keeps the tokens equal to eager `generate` (tests/textgen check it).
It reuses the model's own input preparation and XLA cache update.  Two
changes save work without changing a token: the prompt runs once per
document, not once per beam (`_prompt_step`), and the cache follows its
beams with one gather rather than a transpose, gather and transpose.

`sample_search` is greedy search when `seeds` is None, otherwise nucleus
sampling where each row draws from its own stateless random stream keyed by
(seed, position): a row's text depends only on its prompt and seed, not on
what else was in the batch, so a recorded seed reproduces a suggestion.
"""

from __future__ import annotations

import tensorflow as tf

# GPT-2's cache tensors are [2, rows, heads, length, head size]: rows on axis 1.
_CACHE_ROW_AXIS = 1
_NEG = -1.0e9


def _model_step(model, tokens, model_kwargs):
    """One forward pass; returns (transformer outputs, last-position logits).

    Only the last position goes through the head, the product TFGPT2LMHeadModel
    computes for every position: at a 768-token prompt that is 768 x 50257
    logits (154 MB, 30 G multiply-adds) of which search reads one row.
    """
    inputs = model.prepare_inputs_for_generation(tokens, use_cache=True, **model_kwargs)
    outputs = model.transformer(**inputs, return_dict=True)
    last = outputs.last_hidden_state[:, -1:]
    logits = tf.matmul(last, model.transformer.wte.weights, transpose_b=True)
    return outputs, logits[:, -1]


def _prompt_step(model, input_ids, attention_mask, copies):
    """The prompt's forward pass once per document; each beam gets a copy.

    transformers runs it once per beam, although the beams start equal: at a
    768-token prompt and 5 beams that first step cost most of a document.
    """
    outputs, logits = _model_step(model, input_ids, {"attention_mask": attention_mask})
    outputs["past_key_values"] = tf.nest.map_structure(
        lambda t: tf.repeat(t, copies, axis=_CACHE_ROW_AXIS), outputs.past_key_values
    )
    return outputs, tf.repeat(logits, copies, axis=0)


def _next_kwargs(model, outputs, model_kwargs, cur_len, capacity, rows):
    return model._update_model_kwargs_for_xla_generation(
        model_outputs=outputs,
        model_kwargs=model_kwargs,
        cur_len=cur_len,
        max_length=capacity,
        batch_size=rows,
        is_encoder_decoder=False,
        batch_axis=_CACHE_ROW_AXIS,
    )


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
    batch_size, prompt_len = input_ids.shape
    rows = batch_size * num_beams

    def flat(tensor, axis=0):
        shape = tensor.shape.as_list()
        return tf.reshape(
            tensor, shape[:axis] + [shape[axis] * shape[axis + 1]] + shape[axis + 2 :]
        )

    def unflat(tensor, axis=0):
        shape = tensor.shape.as_list()
        return tf.reshape(tensor, shape[:axis] + [-1, num_beams] + shape[axis + 1 :])

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
    mask = tf.broadcast_to(attention_mask[:, None], (batch_size, num_beams, prompt_len))
    model_kwargs = {"attention_mask": flat(mask)}

    def cond(
        cur_len, running_sequences, running_scores, sequences, scores, finished, kw
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

    def body(
        cur_len, running_sequences, running_scores, sequences, scores, finished, kw
    ):
        if kw.get("past_key_values") is None:
            outputs, logits = _prompt_step(model, input_ids, attention_mask, num_beams)
        else:
            tokens = tf.expand_dims(running_sequences[:, :, cur_len - 1], -1)
            outputs, logits = _model_step(model, flat(tokens), kw)
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
        indices_batch = tf.repeat(tf.range(batch_size), [beams_to_keep])
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
            eos_in_next_token.shape,
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
                did_topk_just_finished.shape,
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
        # Each surviving beam takes its parent's key/value cache: one gather
        # of flat row numbers along the cache's row axis. (transformers'
        # _gather_beams transposes every cache tensor there and back around
        # its gather: three copies of the whole cache per layer and step.)
        parents = model._gather_beams(topk_current_beam_indices, next_topk_indices)
        rows_of = tf.reshape(parents + tf.range(batch_size)[:, None] * num_beams, [-1])
        outputs["past_key_values"] = tf.nest.map_structure(
            lambda t: tf.gather(t, rows_of, axis=_CACHE_ROW_AXIS),
            outputs.past_key_values,
        )
        next_kw = _next_kwargs(model, outputs, kw, cur_len, capacity, rows)
        return (
            cur_len,
            next_running_sequences,
            next_running_scores,
            next_sequences,
            next_scores,
            next_finished,
            next_kw,
        )

    # The first step runs outside the loop: it creates the key/value cache.
    state = body(
        prompt_len,
        running_sequences,
        running_scores,
        sequences,
        scores,
        is_sent_finished,
        model_kwargs,
    )
    cur_len, running_sequences, running_scores, sequences, scores, finished, _ = (
        tf.while_loop(cond, body, state, maximum_iterations=capacity - prompt_len - 1)
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
    batch_size, prompt_len = input_ids.shape
    sequences = tf.concat(
        [input_ids, tf.fill((batch_size, capacity - prompt_len), eos_id)], axis=-1
    )
    finished = tf.zeros((batch_size,), dtype=tf.bool)
    model_kwargs = {"attention_mask": attention_mask}

    def pick(sequences, scores, cur_len):
        if seeds is None:
            return tf.argmax(scores, axis=-1, output_type=tf.int32)
        scores = warpers(sequences, scores, cur_len)
        # Gumbel-max: argmax(scores + Gumbel noise) is a draw from softmax(scores).
        vocab_size = scores.shape[-1]
        noise = tf.stack(
            [
                tf.random.stateless_uniform(
                    [vocab_size],
                    seed=tf.stack([seeds[row], cur_len]),
                    minval=1e-20,
                    maxval=1.0,
                )
                for row in range(batch_size)
            ]
        )
        gumbel = -tf.math.log(-tf.math.log(noise))
        return tf.argmax(scores + gumbel, axis=-1, output_type=tf.int32)

    def cond(cur_len, sequences, finished, kw):
        return (cur_len < stop_len) & ~tf.math.reduce_all(finished)

    def body(cur_len, sequences, finished, kw):
        if kw.get("past_key_values") is None:
            tokens = sequences[:, :cur_len]
        else:
            tokens = tf.expand_dims(sequences[:, cur_len - 1], -1)
        outputs, logits = _model_step(model, tokens, kw)
        scores = processors(sequences, logits, cur_len)
        next_tokens = tf.where(finished, eos_id, pick(sequences, scores, cur_len))
        finished = finished | tf.equal(next_tokens, eos_id)
        update = tf.stack(
            [tf.range(batch_size), tf.broadcast_to(cur_len, [batch_size])], axis=-1
        )
        sequences = tf.tensor_scatter_nd_update(sequences, update, next_tokens)
        cur_len = cur_len + 1
        next_kw = _next_kwargs(model, outputs, kw, cur_len, capacity, batch_size)
        return cur_len, sequences, finished, next_kw

    state = body(prompt_len, sequences, finished, model_kwargs)
    _, sequences, _, _ = tf.while_loop(
        cond, body, state, maximum_iterations=capacity - prompt_len - 1
    )
    return sequences
