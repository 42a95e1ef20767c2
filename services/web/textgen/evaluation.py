"""How good a model is on held-out text, and how much of its training text it repeats.

- `tokenize_blocks` turns documents into the fixed-size blocks that training
  and evaluation both read (each document followed by the end-of-text token,
  all concatenated, cut every `block_size` tokens; the last block padded and
  masked).
- `perplexity` is exp of the mean next-token loss over those blocks.
- `memorized_share` is the share of n-token sequences in a model's
  continuations that appear verbatim in its training text.

TensorFlow is imported inside the functions that need it: the memorization
check runs on strings alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Blocks:
    """Documents as `ids` [rows, block_size] (int32) and a loss `mask` (float32:
    1 on real tokens, 0 on the padding of the last block)."""

    ids: np.ndarray
    mask: np.ndarray
    documents: int
    tokens: int  # real tokens, end-of-text tokens included

    @property
    def rows(self) -> int:
        return int(self.ids.shape[0])


def tokenize_blocks(tokenizer, texts: Sequence[str], block_size: int) -> Blocks:
    """Each text followed by EOS, concatenated and cut into `block_size` blocks.

    Cutting across documents (rather than padding each one) wastes no compute
    on padding; the end-of-text token between documents tells the model where
    one ends.  ValueError when there is no text or `block_size` < 2.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("no documents to tokenize")
    if block_size < 2:
        raise ValueError("block_size must be at least 2")
    eos = int(tokenizer.eos_token_id)
    # verbose=False: documents longer than the model's context are expected
    # here (they are cut into blocks), so the length warning would mislead.
    encoded = tokenizer(texts, verbose=False)["input_ids"]
    stream = [token for ids in encoded for token in (*ids, eos)]
    rows = math.ceil(len(stream) / block_size)
    ids = np.full((rows, block_size), eos, dtype=np.int32)
    mask = np.zeros((rows, block_size), dtype=np.float32)
    ids.reshape(-1)[: len(stream)] = stream
    mask.reshape(-1)[: len(stream)] = 1.0
    return Blocks(ids=ids, mask=mask, documents=len(texts), tokens=len(stream))


def token_loss(model, ids, mask, training: bool):
    """Summed next-token cross-entropy over unmasked targets, and their count.

    Padding sits only at the end of a block, and attention is causal, so it
    cannot change the real positions' logits: only the loss needs the mask.
    """
    import tensorflow as tf

    logits = model(input_ids=ids, training=training).logits[:, :-1, :]
    weights = mask[:, 1:]
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=ids[:, 1:], logits=tf.cast(logits, tf.float32)
    )
    return tf.reduce_sum(losses * weights), tf.reduce_sum(weights)


def make_eval_step(model):
    """A compiled-once `(ids, mask) -> (summed loss, count)` for `model`."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def eval_step(ids, mask):
        return token_loss(model, ids, mask, training=False)

    return eval_step


def padded_batch(blocks: Blocks, rows: np.ndarray, batch_size: int):
    """The blocks `rows`, filled up to `batch_size` with fully masked rows, so
    that every batch has one shape and the step is traced once."""
    ids, mask = blocks.ids[rows], blocks.mask[rows]
    missing = batch_size - len(rows)
    if missing > 0:
        ids = np.concatenate([ids, np.zeros((missing, ids.shape[1]), np.int32)])
        mask = np.concatenate([mask, np.zeros((missing, mask.shape[1]), np.float32)])
    return ids, mask


def mean_loss(eval_step, blocks: Blocks, batch_size: int) -> float:
    """Mean next-token loss per target token over all `blocks`."""
    total, count = 0.0, 0.0
    for start in range(0, blocks.rows, batch_size):
        rows = np.arange(start, min(start + batch_size, blocks.rows))
        summed, counted = eval_step(*padded_batch(blocks, rows, batch_size))
        total += float(summed)
        count += float(counted)
    if count == 0:
        raise ValueError("no token to predict: the texts are too short")
    return total / count


def perplexity(
    model, tokenizer, texts: Sequence[str], block_size: int, *, batch_size: int = 4
) -> float:
    """exp of the mean token loss of `model` over the blocks of `texts`."""
    blocks = tokenize_blocks(tokenizer, texts, block_size)
    return math.exp(mean_loss(make_eval_step(model), blocks, batch_size))


def memorized_share(
    generate: Callable[[list[str]], list[str]],
    prompts: Sequence[str],
    training_text: str | Iterable[str],
    n: int = 8,
    *,
    tokenizer=None,
) -> float:
    """Share of the n-token sequences in `generate(prompts)` found verbatim in
    the training text (0.0 when the continuations hold no n-gram).

    Tokens are the ids of `tokenizer` when one is given (the model's own
    tokenizer: "8 tokens" then means what the model emits), otherwise
    whitespace-separated words.  Each n-gram of each continuation counts once
    per occurrence.  `training_text` is one string or one string per
    document; n-grams never span two documents.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    split = _token_splitter(tokenizer)
    documents = [training_text] if isinstance(training_text, str) else training_text
    seen: set[tuple] = set()
    for document in documents:
        seen.update(ngrams(split(document), n))
    found = total = 0
    for continuation in generate(list(prompts)):
        for gram in ngrams(split(continuation), n):
            total += 1
            found += gram in seen
    return found / total if total else 0.0


def ngrams(tokens: Sequence, n: int) -> list[tuple]:
    """Every run of `n` consecutive tokens, in order."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _token_splitter(tokenizer) -> Callable[[str], list]:
    if tokenizer is None:
        return str.split
    return lambda text: tokenizer(text, verbose=False)["input_ids"]
