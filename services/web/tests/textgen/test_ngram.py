"""The XLA no-repeat-n-gram processor against transformers' eager one."""

import numpy as np
import pytest
import tensorflow as tf
from transformers.generation.tf_logits_process import TFNoRepeatNGramLogitsProcessor

from textgen.ngram import XLANoRepeatNGramLogitsProcessor

VOCAB = 7  # a small vocabulary makes repeated n-grams frequent


def _random_case(rng, rows=4, length=24):
    ids = rng.integers(0, VOCAB, size=(rows, length)).astype(np.int32)
    scores = rng.normal(size=(rows, VOCAB)).astype(np.float32)
    return ids, scores


@pytest.mark.parametrize("ngram_size", [1, 2, 3, 4, 5])
def test_equals_eager_processor_on_random_cases(ngram_size):
    rng = np.random.default_rng(ngram_size)
    eager = TFNoRepeatNGramLogitsProcessor(ngram_size)
    ours = XLANoRepeatNGramLogitsProcessor(ngram_size)
    for _ in range(25):
        ids, scores = _random_case(rng)
        cur_len = int(rng.integers(1, ids.shape[1] + 1))
        expected = eager(tf.constant(ids), tf.constant(scores), cur_len).numpy()
        got = ours(tf.constant(ids), tf.constant(scores), cur_len).numpy()
        np.testing.assert_array_equal(got, expected)


def test_left_padding_is_ignored():
    """Padded rows ban exactly what the eager processor bans unpadded."""
    rng = np.random.default_rng(7)
    eager = TFNoRepeatNGramLogitsProcessor(3)
    for _ in range(25):
        ids, scores = _random_case(rng, rows=1, length=16)
        pad = int(rng.integers(0, 6))
        cur_len = int(rng.integers(1, 17))
        padded = np.concatenate([np.zeros((1, pad), np.int32), ids], axis=1)
        ours = XLANoRepeatNGramLogitsProcessor(3, starts=tf.constant([pad]))
        expected = eager(tf.constant(ids), tf.constant(scores), cur_len).numpy()
        got = ours(tf.constant(padded), tf.constant(scores), cur_len + pad).numpy()
        np.testing.assert_array_equal(got, expected)


def test_runs_under_xla_with_a_tensor_cur_len():
    rng = np.random.default_rng(3)
    ids, scores = _random_case(rng)
    processor = XLANoRepeatNGramLogitsProcessor(2)
    compiled = tf.function(processor, jit_compile=True)
    expected = TFNoRepeatNGramLogitsProcessor(2)(
        tf.constant(ids), tf.constant(scores), 20
    ).numpy()
    got = compiled(tf.constant(ids), tf.constant(scores), tf.constant(20)).numpy()
    np.testing.assert_array_equal(got, expected)
    assert np.isinf(got).any()  # the case does ban something


def test_rejects_bad_size():
    with pytest.raises(ValueError):
        XLANoRepeatNGramLogitsProcessor(0)


def test_one_length_per_row_equals_each_row_alone():
    """Rows of a continuous batch stand at different lengths."""
    rng = np.random.default_rng(5)
    processor = XLANoRepeatNGramLogitsProcessor(3, starts=tf.constant([0, 2, 1, 0]))
    for _ in range(10):
        ids, scores = _random_case(rng)
        lengths = rng.integers(1, ids.shape[1] + 1, size=len(ids)).astype(np.int32)
        got = processor(tf.constant(ids), tf.constant(scores), tf.constant(lengths))
        for row, length in enumerate(lengths):
            alone = processor(tf.constant(ids), tf.constant(scores), int(length))
            np.testing.assert_array_equal(got[row], alone[row])
