"""GPT-2 decoding with a key/value cache that never moves.

transformers' TF GPT-2 keeps one cache row per beam.  Beam search then
copies a kept beam's whole history (every layer's keys and values) into its
new row at every step, and the attention's concat copies the cache once
more.  Those copies, not the weights, were most of a batched step's memory
traffic.  Here the cache is:

- the prompt's keys and values, once per document, shared by its beams
  (`PromptCache`: [batch, heads, prompt, head size] per layer);
- the new tokens' keys and values in one slot per beam
  ([batch, new, slots, n_embd] per layer): the token a beam made at step t
  stays in the slot of the beam that made it;
- `origin` [batch, beams, new]: for each beam, the slot that holds its token
  of each step.  Beam search follows its beams by gathering this small table.

Attention (`_attend`) gathers each beam's own rows (n_embd floats, in place)
from the slots `origin` names, instead of copying the cache.  It reads the
new positions in chunks of `CHUNK`, only as many as the step has filled: the
buffer is sized for the longest suggestion, and reading all of it made
attention most of a batched step (40 rows at 124M: 300 ms of 520, make
bench-step).  Its softmax runs over the prompt, then chunk by chunk, so
no score is built for the positions not yet filled.  An earlier version
scored every slot and kept the one `origin` names, with a one-hot product
(a step at 5 and 20 rows: 63 and 104 ms on an AVX2 EPYC, now 52 and 88).

`step`, the new position decoded, is one for every row (a batch that
started together) or one per row (a continuous batch, whose rows joined at
different times: continuous.py).  Per row, the writes are scatters and the
attention masks each row's own future; the chunks read are those the
furthest row has filled.

Everything else is the model's own layers, called the way TFGPT2MainLayer
calls them (their weight matrices in the layout XLA multiplies fastest on
this CPU: layout.py), so the logits differ from transformers' only in the
order the sums run.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf
from tensorflow.compiler.tf2xla.python.xla import dynamic_update_slice

from . import layout

# GPT-2's additive attention mask for positions a token must not see.
_MASKED = -10000.0
# New positions attention reads at a time.  Attention alone at 40 rows, AVX2
# EPYC: 35, 33 and 43 ms a step for 16, 32 and 64.
CHUNK = 32


class PromptCache(NamedTuple):
    keys: list  # per layer [batch, heads, prompt, head size]
    values: list
    mask: tf.Tensor  # [batch, 1, 1, prompt] additive: 0 or _MASKED (left padding)
    lengths: tf.Tensor  # [batch] real prompt tokens: the first new position


class BeamCache(NamedTuple):
    keys: list  # per layer [batch, new, slots, heads * head size]
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
    shape = (batch_size, new_len, num_beams, config.n_embd)
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
    """tokens [batch, beams] at new position `step` (a scalar, or [batch]: one
    per row) -> (logits [batch*beams, vocab], the cache with this step's keys
    and values written)."""
    transformer = model.transformer
    batch_size, beams = tf.shape(tokens)[0], tokens.shape[1]
    heads = model.config.n_head
    size = model.config.n_embd // heads
    step = tf.convert_to_tensor(step, tf.int32)
    write = _row_writer(step, batch_size)

    # This step's token sits in its own beam's slot.
    here = tf.broadcast_to(tf.range(beams)[None, :, None], (batch_size, beams, 1))
    origin = _write_origin(cache.origin, here, step)

    positions = prompt.lengths[:, None] + (step[:, None] if step.shape.rank else step)
    flat_tokens = tf.reshape(tokens, (-1,))
    flat_positions = tf.reshape(tf.broadcast_to(positions, tf.shape(tokens)), (-1,))
    x = transformer.wte(flat_tokens) + transformer.wpe(flat_positions)

    keys, values = [], []
    for i, block in enumerate(transformer.h):
        attn = block.attn
        qkv = layout.linear(_norm(block.ln_1, x), attn.c_attn)
        q, k, v = tf.split(qkv, 3, axis=1)  # [batch*beams, heads*size]: a row per beam
        keys.append(write(cache.keys[i], _by_slot(k, beams)))
        values.append(write(cache.values[i], _by_slot(v, beams)))
        context = _attend(
            tf.reshape(q, (batch_size, beams, heads, size)),
            prompt.keys[i],
            prompt.values[i],
            prompt.mask,
            keys[i],
            values[i],
            origin,
            step,
        )
        x = x + layout.linear(tf.reshape(context, tf.shape(x)), attn.c_proj)
        mlp = block.mlp
        hidden = mlp.act(layout.linear(_norm(block.ln_2, x), mlp.c_fc))
        x = x + layout.linear(hidden, mlp.c_proj)
    logits = layout.head(model, _norm(transformer.ln_f, x))
    return logits, BeamCache(keys=keys, values=values, origin=origin)


def _row_writer(step, batch_size):
    """A function writing one step's entry [batch, 1, ...] into a cache
    [batch, new, ...] at `step`: one slice for a shared step, a scatter of
    one row each for per-row steps."""
    if not step.shape.rank:
        return lambda cache, entry: dynamic_update_slice(
            cache, entry, [0, step] + [0] * (len(entry.shape) - 2)
        )
    where = tf.stack([tf.range(batch_size), step], axis=-1)
    return lambda cache, entry: tf.tensor_scatter_nd_update(cache, where, entry[:, 0])


def _write_origin(origin, here, step):
    """`origin` [batch, beams, new] with `here` [batch, beams, 1] at `step`."""
    if not step.shape.rank:
        return dynamic_update_slice(origin, here, [0, 0, step])
    at = tf.one_hot(step, tf.shape(origin)[2], on_value=True, off_value=False)
    return tf.where(at[:, None, :], here, origin)


def _by_slot(rows, beams):
    """[batch*beams, n_embd] -> [batch, 1, beams, n_embd]: one step's entry."""
    return tf.reshape(rows, (-1, 1, beams, rows.shape[-1]))


def _attend(q, prompt_keys, prompt_values, prompt_mask, keys, values, origin, step):
    """q [batch, beams, heads, size] -> each beam's attention context, same shape.

    A softmax that runs over the prompt and then each filled chunk of new
    positions, keeping its running maximum, sum and weighted values (the
    online softmax of flash attention), so that no score or weight is built
    for the whole buffer.  A chunk's keys and values are gathered per beam
    from the slots `origin` names: rows of n_embd floats, which XLA reads in
    place.
    """
    batch_size, beams, heads, size = tf.shape(q)[0], q.shape[1], q.shape[2], q.shape[3]
    scale = 1.0 / float(size) ** 0.5
    scores = tf.einsum("bkhd,bhpd->bhkp", q, prompt_keys) * scale + prompt_mask
    top = tf.reduce_max(scores, axis=-1, keepdims=True)
    weights = tf.exp(scores - top)
    total = tf.reduce_sum(weights, axis=-1, keepdims=True)
    context = tf.einsum("bhkp,bhpd->bhkd", weights, prompt_values)
    per_position = q[:, None]  # [batch, 1, beams, heads, size]

    def beam_rows(cache, slots, index):  # [batch, CHUNK, beams, heads, size]
        rows = tf.gather(_chunk(cache, 1, index), slots, batch_dims=2)
        return tf.reshape(rows, (batch_size, CHUNK, beams, heads, size))

    def add_chunk(index, top, total, context):
        # [batch, CHUNK, beams]: the slot of each beam's token at each position
        slots = tf.transpose(_chunk(origin, 2, index), (0, 2, 1))
        scores = tf.reduce_sum(per_position * beam_rows(keys, slots, index), axis=-1)
        future = tf.where(
            index * CHUNK + tf.range(CHUNK) > step[..., None], _MASKED, 0.0
        )
        if step.shape.rank:  # per row: [batch, 1, 1, CHUNK]
            future = future[:, None, None, :]
        scores = tf.transpose(scores, (0, 3, 2, 1)) * scale + future
        new_top = tf.maximum(top, tf.reduce_max(scores, axis=-1, keepdims=True))
        rescale = tf.exp(top - new_top)
        weights = tf.exp(scores - new_top)
        total = total * rescale + tf.reduce_sum(weights, axis=-1, keepdims=True)
        chunk_context = tf.einsum(
            "bhkn,bnkhd->bhkd", weights, beam_rows(values, slots, index)
        )
        return index + 1, new_top, total, context * rescale + chunk_context

    # The chunks that hold a token so far (the furthest row's).
    chunks = tf.reduce_max(step) // CHUNK + 1
    _, _, total, context = tf.while_loop(
        lambda index, *_: index < chunks, add_chunk, (0, top, total, context)
    )
    return tf.transpose(context / total, (0, 2, 1, 3))


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
