"""GPT-2 decoding with a key/value cache that never moves.

transformers' TF GPT-2 keeps one cache row per beam.  Beam search then
copies a kept beam's whole history (every layer's keys and values) into its
new row at every step, and the attention's concat copies the cache once
more.  Those copies, not the weights, were most of a batched step's memory
traffic.  Here the cache is:

- the prompt's keys and values, once per document, shared by its beams
  (`PromptCache`: [batch, heads, prompt, head size] per layer);
- the new tokens' keys and values in one slot per beam
  ([batch, heads, slots, new, head size] per layer): the token a beam made at
  step t stays in the slot of the beam that made it;
- `origin` [batch, beams, new]: for each beam, the slot that holds its token
  of each step.  Beam search follows its beams by gathering this small table.

Attention scores a query against every slot of its document and keeps, per
position, the score of the slot `origin` names: slots x the attention's own
(small) work, instead of copying the cache.  It reads the new positions in
chunks of `CHUNK`, only as many as the step has filled: the buffer is sized
for the longest suggestion, and reading all of it made attention most of a
batched step (40 rows at 124M: 300 ms of 520, make bench-step).  Positions
not read keep a score of 0, which is what a query scores against the zeroed
buffer, so the scores are the same as reading everything.  Everything else is
the model's own layers, called the way TFGPT2MainLayer calls them (their
weight matrices in the layout XLA multiplies fastest on this CPU: layout.py),
so the logits differ from transformers' only in the order the sums run.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from . import layout

# GPT-2's additive attention mask for positions a token must not see.
_MASKED = -10000.0
# New positions attention reads at a time.  16 and 32 measured the same.
CHUNK = 32


class PromptCache(NamedTuple):
    keys: list  # per layer [batch, heads, prompt, head size]
    values: list
    mask: tf.Tensor  # [batch, 1, 1, prompt] additive: 0 or _MASKED (left padding)
    lengths: tf.Tensor  # [batch] real prompt tokens: the first new position


class BeamCache(NamedTuple):
    keys: list  # per layer [batch, heads, slots, new, head size]
    values: list
    origin: tf.Tensor  # [batch, beams, new] int32: the slot of each step's token


def prompt_pass(model, input_ids, attention_mask):
    """Run the prompts once: (last-position logits [batch, vocab], PromptCache).

    Only the last position goes through the head: TFGPT2LMHeadModel computes
    every position's logits (at a 768-token prompt 768 x 50257, 154 MB and
    30 G multiply-adds) where search reads one row.
    """
    position_ids = tf.math.cumsum(attention_mask, axis=-1, exclusive=True)
    outputs = model.transformer(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=True,
        return_dict=True,
    )
    logits = layout.head(model, outputs.last_hidden_state[:, -1])
    mask = (1.0 - tf.cast(attention_mask, tf.float32)) * _MASKED
    cache = PromptCache(
        keys=[layer[0] for layer in outputs.past_key_values],
        values=[layer[1] for layer in outputs.past_key_values],
        mask=mask[:, None, None, :],
        lengths=tf.reduce_sum(attention_mask, axis=-1),
    )
    return logits, cache


def empty_cache(model, batch_size, num_beams: int, new_len) -> BeamCache:
    """A zeroed cache for `new_len` new tokens, rounded up to whole chunks."""
    new_len = -(-new_len // CHUNK) * CHUNK
    config = model.config
    heads = config.n_head
    shape = (batch_size, heads, num_beams, new_len, config.n_embd // heads)
    layers = range(config.n_layer)
    return BeamCache(
        keys=[tf.zeros(shape) for _ in layers],
        values=[tf.zeros(shape) for _ in layers],
        origin=tf.zeros((batch_size, num_beams, new_len), tf.int32),
    )


def _norm(layer, x):
    """A layer norm built for [batch, positions, n_embd] on x [rows, n_embd]."""
    return layer(x[:, None])[:, 0]


def follow_beams(cache: BeamCache, parents) -> BeamCache:
    """The cache of the beams kept: [batch, beams] parent beam of each."""
    return cache._replace(origin=tf.gather(cache.origin, parents, batch_dims=1))


def decode_step(model, tokens, step, prompt: PromptCache, cache: BeamCache):
    """tokens [batch, beams] at new position `step` -> (logits [batch*beams,
    vocab], the cache with this step's keys and values written)."""
    transformer = model.transformer
    batch_size, beams = tf.shape(tokens)[0], tokens.shape[1]
    new_len = tf.shape(cache.origin)[-1]
    prompt_len = tf.shape(prompt.mask)[-1]
    heads = model.config.n_head
    size = model.config.n_embd // heads

    # This step's token sits in its own beam's slot.
    here = tf.broadcast_to(tf.range(beams)[None, :, None], (batch_size, beams, 1))
    origin = dynamic_update_slice(cache.origin, here, [0, 0, step])
    # [batch, 1, beams, slots, new]: 1.0 where a beam's token of a step lies.
    chosen = tf.one_hot(origin, beams, axis=2, dtype=tf.float32)[:, None]
    future = tf.range(new_len) > step
    chunks = step // CHUNK + 1  # the chunks that hold a token so far
    mask = tf.concat(
        [
            tf.broadcast_to(prompt.mask, (batch_size, 1, 1, prompt_len)),
            tf.broadcast_to(
                tf.where(future, _MASKED, 0.0)[None, None, None],
                (batch_size, 1, 1, new_len),
            ),
        ],
        axis=-1,
    )

    positions = prompt.lengths[:, None] + step
    flat_tokens = tf.reshape(tokens, (-1,))
    flat_positions = tf.reshape(tf.broadcast_to(positions, tf.shape(tokens)), (-1,))
    x = transformer.wte(flat_tokens) + transformer.wpe(flat_positions)

    def per_beam(t):  # [batch*beams, heads*size] -> [batch, heads, beams, size]
        return tf.transpose(
            tf.reshape(t, (batch_size, beams, heads, size)), (0, 2, 1, 3)
        )

    keys, values = [], []
    for i, block in enumerate(transformer.h):
        attn = block.attn
        qkv = layout.linear(_norm(block.ln_1, x), attn.c_attn)
        q, k, v = (per_beam(t) for t in tf.split(qkv, 3, axis=1))
        start = [0, 0, 0, step, 0]
        keys.append(dynamic_update_slice(cache.keys[i], k[:, :, :, None], start))
        values.append(dynamic_update_slice(cache.values[i], v[:, :, :, None], start))

        prompt_scores = tf.einsum("bhkd,bhpd->bhkp", q, prompt.keys[i])
        new_scores = _new_scores(q, keys[i], chosen, chunks)
        scores = tf.concat([prompt_scores, new_scores], axis=-1) / tf.sqrt(float(size))
        weights = tf.nn.softmax(scores + mask + 1e-9, axis=-1)
        prompt_weights, new_weights = (
            weights[..., :prompt_len],
            weights[..., prompt_len:],
        )
        context = tf.einsum(
            "bhkp,bhpd->bhkd", prompt_weights, prompt.values[i]
        ) + _new_context(new_weights, values[i], chosen, chunks)
        context = tf.reshape(
            tf.transpose(context, (0, 2, 1, 3)), (batch_size * beams, heads * size)
        )
        x = x + layout.linear(context, attn.c_proj)
        mlp = block.mlp
        hidden = mlp.act(layout.linear(_norm(block.ln_2, x), mlp.c_fc))
        x = x + layout.linear(hidden, mlp.c_proj)
    logits = layout.head(model, _norm(transformer.ln_f, x))
    return logits, BeamCache(keys=keys, values=values, origin=origin)


def _chunk(tensor, axis: int, index):
    """Chunk `index` of `tensor` along `axis`.

    Every size is given, the batch size too (tf.shape: a constant once XLA
    compiles): a size of -1 ("to the end", from a begin that moves with the
    loop) made XLA treat every dimension as dynamic, padding and masking the
    whole step (5x slower, twice the memory: make bench).
    """
    begin = [0] * len(tensor.shape)
    begin[axis] = index * CHUNK
    size = [
        tf.shape(tensor)[i] if dim is None else dim
        for i, dim in enumerate(tensor.shape)
    ]
    size[axis] = CHUNK
    return tf.slice(tensor, begin, size)


def _new_scores(q, keys, chosen, chunks):
    """[batch, heads, beams, new]: each beam's query against the keys of its
    own tokens, read chunk by chunk; 0 past the last chunk."""
    _, heads, beams, _ = q.shape
    batch_size, new_len = tf.shape(q)[0], tf.shape(keys)[3]

    def score_chunk(index, scores):
        every_slot = tf.einsum("bhkd,bhsnd->bhksn", q, _chunk(keys, 3, index))
        chunk = tf.reduce_sum(every_slot * _chunk(chosen, 4, index), axis=3)
        return index + 1, dynamic_update_slice(scores, chunk, [0, 0, 0, index * CHUNK])

    scores = tf.zeros((batch_size, heads, beams, new_len))
    return tf.while_loop(lambda index, _: index < chunks, score_chunk, (0, scores))[1]


def _new_context(weights, values, chosen, chunks):
    """[batch, heads, beams, head size]: the weighted sum of each beam's own
    values, chunk by chunk."""
    _, heads, beams, _ = weights.shape
    batch_size = tf.shape(weights)[0]

    def add_chunk(index, context):
        chunk_weights = _chunk(weights, 3, index)[:, :, :, None] * _chunk(
            chosen, 4, index
        )
        return index + 1, context + tf.einsum(
            "bhksn,bhsnd->bhkd", chunk_weights, _chunk(values, 3, index)
        )

    context = tf.zeros((batch_size, heads, beams, values.shape[-1]))
    return tf.while_loop(lambda index, _: index < chunks, add_chunk, (0, context))[1]
