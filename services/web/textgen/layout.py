"""How the weight matrices are stored: the layout XLA multiplies fastest.

GPT-2 stores the blocks' matrices [in, out] (Conv1D) and its output layer,
tied to the token embedding, [out, in] ([vocab, n_embd]).  Which layout
XLA's CPU product of a few rows reads faster depends on the CPU (make
bench-step, GPT-2 124M, one decoding step of 5 rows):

- a 2-core AMD EPYC with AVX2 only: [out, in] (the 12 blocks at 40 rows: 88
  against 133 ms);
- a 2-core AMD EPYC with AVX-512: [in, out] (a step 30.6 -> 18.5 ms, of
  which the output layer 7.1 -> 4.7).

So the engine measures both on the model's own weights when it loads
(`fastest`, 1.3 s at 124M) and keeps the faster, for every matrix.  A
transpose goes into the same variable, so it costs no memory, and the
layers' calls (the blocks', the embedding lookup's, the model's output
layer) are swapped for ones that read it, so the model (the prompt pass,
eager `generate`) still computes the same products.  Such a model is for
generation only: its variables no longer hold GPT-2's checkpoint layout, so
it must never be saved or trained (a fresh copy must).
"""

from __future__ import annotations

import time
import types

import tensorflow as tf
from transformers.modeling_tf_outputs import TFCausalLMOutputWithCrossAttentions
from transformers.tf_utils import shape_list

IN_OUT = "in_out"
OUT_IN = "out_in"
LAYOUTS = (IN_OUT, OUT_IN)


def store(model, layout: str) -> None:
    """Store every weight matrix of the model in `layout`, in place."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown weight layout {layout!r}: one of {LAYOUTS}")
    for layer in matrices(model):
        if stored(layer) != layout:
            matrix = _matrix(layer)
            current = tf.reshape(matrix, _shape(layer, stored(layer)))
            matrix.assign(tf.reshape(tf.transpose(current), matrix.shape))
            layer.layout = layout
            call = _lookup if _is_embedding(layer) else _conv_call
            layer.call = types.MethodType(call, layer)
    model.call = types.MethodType(_lm_call, model)
    model.save_pretrained = model.save_weights = _refuse_to_save


def matrices(model) -> list:
    """The layers holding a weight matrix: the token embedding (also the
    output layer) and each block's four Conv1Ds."""
    layers = [model.transformer.wte]
    for block in model.transformer.h:
        layers += [block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc]
        layers.append(block.mlp.c_proj)
    return layers


def stored(layer) -> str:
    """The layout a layer's matrix is in.  GPT-2's own: a Conv1D [in, out],
    the embedding [vocab, n_embd], which as the output layer is [out, in]."""
    return getattr(layer, "layout", OUT_IN if _is_embedding(layer) else IN_OUT)


def linear(x, conv):
    """x [rows, in] by a Conv1D, whichever layout its matrix is stored in."""
    return _product(x, conv) + conv.bias


def head(model, hidden):
    """GPT-2's output layer, tied to the token embedding: [rows, n_embd] ->
    [rows, vocab], one matrix product over all rows (TFGPT2LMHeadModel's is
    a batched product, which XLA ran as one matrix-vector product per row,
    each reading the whole 154 MB matrix: 60 ms of a step for 20 rows at
    124M, against 33 for this one; make bench-step)."""
    return _product(hidden, model.transformer.wte)


def fastest(model, rows: int = 5, repeats: int = 3) -> tuple[str, dict[str, float]]:
    """Time every product of a decoding step, `rows` rows, in each layout;
    (the faster, {layout: best ms a pass}).  Leaves the model in the faster.

    `rows` 5: one document's beams, the case that waits on memory.  Two
    rounds of both layouts, and the best run of each counts, so that a burst
    of load from another process does not decide it.
    """
    x = tf.ones((rows, model.config.n_embd))
    programs = {layout: _products(model) for layout in LAYOUTS}
    best = dict.fromkeys(LAYOUTS, float("inf"))
    for _ in range(2):
        for layout, products in programs.items():
            store(model, layout)  # before its first call, which traces it
            products(x).numpy()  # the first call compiles
            for _ in range(repeats):
                tick = time.perf_counter()
                products(x).numpy()
                best[layout] = min(best[layout], (time.perf_counter() - tick) * 1000)
    winner = min(best, key=best.get)
    store(model, winner)
    return winner, best


def _products(model):
    """An XLA program running each matrix's product once."""

    @tf.function(jit_compile=True, autograph=False)
    def products(x):
        total = tf.zeros_like(x)
        for block in model.transformer.h:
            qkv = linear(x, block.attn.c_attn)
            hidden = linear(qkv[:, : x.shape[1]], block.attn.c_proj)
            total += linear(linear(hidden, block.mlp.c_fc), block.mlp.c_proj)
        return head(model, total)

    return products


def _is_embedding(layer) -> bool:
    return hasattr(layer, "input_dim")  # keras Embedding; a Conv1D has nx, nf


def _matrix(layer):
    return layer.embeddings if _is_embedding(layer) else layer.weight


def _shape(layer, layout):
    """The matrix's 2-D shape in `layout`."""
    if _is_embedding(layer):  # in: n_embd, out: vocab
        n_in, n_out = layer.output_dim, layer.input_dim
    else:
        n_in, n_out = layer.nx, layer.nf
    return (n_in, n_out) if layout == IN_OUT else (n_out, n_in)


def _product(x, layer):
    """x [rows, in] by the layer's matrix as stored: [rows, out]."""
    matrix = tf.reshape(_matrix(layer), _shape(layer, stored(layer)))
    return tf.matmul(x, matrix, transpose_b=stored(layer) == OUT_IN)


def _conv_call(conv, x):  # TFConv1D.call, reading the matrix as stored
    batch_size, length = shape_list(x)[:2]
    rows = linear(tf.reshape(x, (-1, conv.nx)), conv)
    return tf.reshape(rows, (batch_size, length, conv.nf))


def _lookup(wte, ids):  # keras Embedding.call, reading the matrix as stored
    ids = tf.cast(ids, tf.int32)
    if stored(wte) == OUT_IN:
        return tf.gather(wte.embeddings, ids)
    matrix = tf.reshape(wte.embeddings, _shape(wte, IN_OUT))
    columns = tf.gather(matrix, tf.reshape(ids, [-1]), axis=1)
    return tf.reshape(tf.transpose(columns), tf.concat([tf.shape(ids), [-1]], 0))


def _refuse_to_save(*_args, **_kwargs):
    raise ValueError("weights stored for generation: save a fresh copy")


def _lm_call(
    model,
    input_ids=None,
    past_key_values=None,
    attention_mask=None,
    token_type_ids=None,
    position_ids=None,
    use_cache=None,
    output_attentions=None,
    output_hidden_states=None,
    return_dict=None,
    labels=None,
    training=False,
):
    """TFGPT2LMHeadModel.call for generation, its output layer reading the
    embedding as stored (transformers' reads it [vocab, n_embd] directly).
    The arguments are the ones `generate` checks its inputs against."""
    if labels is not None:
        raise ValueError("weights stored for generation: train a fresh copy")
    outputs = model.transformer(
        input_ids=input_ids,
        past_key_values=past_key_values,
        attention_mask=attention_mask,
        token_type_ids=token_type_ids,
        position_ids=position_ids,
        use_cache=use_cache,
        output_attentions=output_attentions,
        output_hidden_states=output_hidden_states,
        return_dict=True,
        training=training,
    )
    hidden = outputs.last_hidden_state
    rows = head(model, tf.reshape(hidden, (-1, hidden.shape[-1])))
    logits = tf.reshape(rows, tf.concat([tf.shape(hidden)[:-1], [-1]], 0))
    result = TFCausalLMOutputWithCrossAttentions(
        logits=logits,
        past_key_values=outputs.past_key_values,
        hidden_states=outputs.hidden_states,
        attentions=outputs.attentions,
        cross_attentions=outputs.cross_attentions,
    )
    if return_dict is None:
        return_dict = model.config.use_return_dict
    return result if return_dict else result.to_tuple()
