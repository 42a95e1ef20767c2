"""An XLA-compatible no-repeat-n-gram logits processor.

transformers' TFNoRepeatNGramLogitsProcessor walks Python lists and raises
NotImplementedError inside tf.function.  This one uses fixed shapes only:
every (n-1)-token window of the sequence is compared with the current
(n-1)-token suffix, and the token that followed each matching window gets a
ban (-inf), scattered onto the vocabulary.

It also knows where each row really starts (`starts`), so that left padding
is never mistaken for text: a padded prompt then bans exactly what the
unpadded prompt would, which is what keeps batched output equal to unbatched.
`cur_len` is one length for every row, or one per row ([rows]: rows of a
continuous batch stand at different lengths).
"""

from __future__ import annotations

import tensorflow as tf
from transformers.generation.tf_logits_process import TFLogitsProcessor


class XLANoRepeatNGramLogitsProcessor(TFLogitsProcessor):
    """Ban every token that would complete an n-gram already in the sequence.

    `starts` (optional, int tensor of shape [rows]) is the index of each row's
    first real token; positions before it (left padding) are ignored.
    """

    def __init__(self, ngram_size: int, starts: tf.Tensor | None = None):
        if not isinstance(ngram_size, int) or ngram_size <= 0:
            raise ValueError(f"ngram_size must be a positive integer, got {ngram_size}")
        self.ngram_size = ngram_size
        self.starts = starts

    def __call__(self, input_ids: tf.Tensor, scores: tf.Tensor, cur_len) -> tf.Tensor:
        banned = self.banned_mask(
            input_ids, scores.shape[-1] or tf.shape(scores)[-1], cur_len
        )
        return tf.where(banned, tf.cast(float("-inf"), scores.dtype), scores)

    def _window_matches(self, input_ids: tf.Tensor, cur_len: tf.Tensor) -> tf.Tensor:
        """[rows, windows] bool: window i equals the current suffix and is valid."""
        context = self.ngram_size - 1
        length = tf.shape(input_ids)[1]  # the padded maximum length
        n_windows = length - context
        positions = tf.range(n_windows)
        cur_len = tf.broadcast_to(cur_len, tf.shape(input_ids)[:1])[:, None]
        # Suffix = the last `context` tokens before cur_len (clipped when too
        # short; such rows have no valid window anyway, see `valid` below).
        suffix_index = tf.maximum(cur_len - context + tf.range(context)[None, :], 0)
        suffix = tf.gather(input_ids, suffix_index, batch_dims=1)
        match = tf.ones_like(input_ids[:, :n_windows], dtype=tf.bool)
        for k in range(context):
            match &= tf.equal(input_ids[:, k : k + n_windows], suffix[:, k : k + 1])
        # Window i is a complete n-gram (prefix i..i+n-2, next token i+n-1)
        # lying inside [start, cur_len).
        valid = positions[None, :] + context < cur_len
        if self.starts is not None:
            valid &= positions[None, :] >= tf.cast(self.starts, tf.int32)[:, None]
        return match & valid

    def banned_mask(self, input_ids: tf.Tensor, vocab_size, cur_len) -> tf.Tensor:
        """[rows, vocab] bool: tokens that would repeat an n-gram."""
        input_ids = tf.cast(input_ids, tf.int32)
        cur_len = tf.cast(cur_len, tf.int32)
        context = self.ngram_size - 1
        matches = self._window_matches(input_ids, cur_len)
        following = input_ids[:, context:]  # token after each window
        rows = tf.shape(input_ids)[0]
        row_index = tf.broadcast_to(tf.range(rows)[:, None], tf.shape(following))
        indices = tf.stack([row_index, following], axis=-1)
        counts = tf.scatter_nd(
            tf.reshape(indices, [-1, 2]),
            tf.reshape(tf.cast(matches, tf.int32), [-1]),
            shape=tf.stack([rows, vocab_size]),
        )
        return counts > 0
