"""Prompt windows, length choices, one program for every length, sampling."""

import pytest

from textgen import GenerationSettings, Generator
from textgen.equivalence import compare
from textgen.settings import Request

from .test_engine import PROMPTS, _eager

# EOS is banned for as long as a request runs, so lengths are exact.
EXACT = GenerationSettings(
    max_new_tokens=20,
    longest=100,
    num_beams=2,
    no_repeat_ngram_size=3,
    min_new_tokens=100,
    length_buckets=(8, 16, 32, 64),
    warm_buckets=(),
)


@pytest.fixture(scope="module")
def exact_generator(tiny_model_dir):
    return Generator.load(str(tiny_model_dir), EXACT, warmup=False, batch_sizes=(1,))


def _prompt_of(generator, tokens):
    """A prompt of exactly `tokens` tokens (word repeats tokenize stably)."""
    ids = generator.tokenizer(" apt" * tokens)["input_ids"]
    assert len(ids) == tokens
    return " apt" * tokens


def test_the_window_is_the_context_minus_the_new_tokens(exact_generator):
    # Tiny context: 128 tokens. 20 new tokens leave bucket 64; 100 leave 16.
    prompt = _prompt_of(exact_generator, 60)
    below = exact_generator.prepare(prompt, new_tokens=20)
    assert (len(below.ids), below.cut, below.bucket) == (60, 0, 64)
    above = exact_generator.prepare(prompt, new_tokens=100)
    assert (len(above.ids), above.cut, above.bucket) == (16, 44, 16)
    longer = exact_generator.prepare(_prompt_of(exact_generator, 90), new_tokens=20)
    assert (len(longer.ids), longer.cut) == (64, 26)


def test_the_window_of_gpt2_and_of_the_seed_model():
    from textgen.prompts import prompt_window
    from textgen.settings import DEFAULT_BUCKETS, LENGTHS

    assert {prompt_window(DEFAULT_BUCKETS, 1024, n) for n in LENGTHS.values()} == {768}
    assert prompt_window(DEFAULT_BUCKETS, 256, LENGTHS["medium"]) == 128
    assert prompt_window(DEFAULT_BUCKETS, 256, LENGTHS["long"]) == 32


def test_length_choices_give_that_many_tokens_from_one_program(exact_generator):
    request = [Request(PROMPTS[1], new_tokens=n) for n in (5, 40, 100)]
    outputs = exact_generator.generate_ids(request)
    assert [len(ids) for ids in outputs] == [5, 40, 100]
    # Shorter is a prefix of longer only by chance; what must hold is one
    # compiled program for every length.
    bucket = exact_generator.prepare(PROMPTS[1]).bucket
    assert exact_generator.compiled() == [(bucket, 1, "beam")]


@pytest.mark.parametrize("new_tokens", [3, 11, 30])
def test_every_length_equals_eager_generate(tiny_model_dir, new_tokens):
    settings = GenerationSettings(
        max_new_tokens=new_tokens,
        longest=30,
        num_beams=3,
        no_repeat_ngram_size=3,
        min_new_tokens=2,
        length_buckets=(8, 16),
    )
    generator = Generator.load(str(tiny_model_dir), settings, warmup=False)
    for prompt, ids in zip(PROMPTS, generator.generate_ids(PROMPTS), strict=True):
        assert ids == _eager(generator, prompt), prompt


def test_original_settings_equal_the_originals_own_call(tiny_model_dir):
    settings = GenerationSettings.original(length_buckets=(8, 16))
    generator = Generator.load(str(tiny_model_dir), settings, warmup=False)
    assert generator.prepare(PROMPTS[0]).new_tokens == 100 - len(
        generator.prepare(PROMPTS[0]).ids
    )
    assert compare(generator, PROMPTS, original=True) == []


def test_sample_mode_is_reproducible_from_its_seed(tiny_generator):
    alone = tiny_generator.generate_ids([Request(PROMPTS[0], mode="sample", seed=7)])
    batched = tiny_generator.generate_ids(
        [
            Request(PROMPTS[0], mode="sample", seed=7),
            Request(PROMPTS[2], mode="sample", seed=7),
            Request(PROMPTS[0], mode="sample", seed=8),
        ]
    )
    assert batched[0] == alone[0]  # the batch does not change a row's draw
    assert batched[2] != alone[0]  # another seed, another text
    beam = tiny_generator.generate_ids([PROMPTS[0]])
    assert alone[0] != beam[0]


def test_a_new_program_is_announced_before_it_compiles(tiny_model_dir):
    generator = Generator.load(
        str(tiny_model_dir), EXACT, warmup=False, batch_sizes=(1,)
    )
    announced = []
    generator.generate_ids(["man apt"], on_compile=lambda *key: announced.append(key))
    generator.generate_ids(
        [Request("man apt", new_tokens=7)],
        on_compile=lambda *key: announced.append(key),
    )
    assert announced == [(8, 1, "beam")]


def test_too_many_new_tokens_are_refused(exact_generator):
    with pytest.raises(ValueError, match="more than"):
        exact_generator.prepare("man apt", new_tokens=101)


def test_top_p_warper_equals_transformers_one_on_any_number_of_rows():
    """Ours serves traces where the rows are unknown; transformers' does not."""
    import numpy as np
    import tensorflow as tf
    from transformers.generation.tf_logits_process import TFTopPLogitsWarper

    from textgen.program import TopPLogitsWarper

    ours = tf.function(
        TopPLogitsWarper(0.9).__call__,
        input_signature=[
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None, 50), tf.float32),
            tf.TensorSpec((), tf.int32),
        ],
    )
    scores = tf.constant(np.random.RandomState(0).normal(0, 2, (6, 50)), tf.float32)
    ids = tf.zeros((6, 1), tf.int32)
    expected = TFTopPLogitsWarper(0.9)(ids, scores, 1).numpy()
    got = ours(ids, scores, tf.constant(1)).numpy()
    np.testing.assert_array_equal(got, expected)
    assert 0 < np.isinf(got).sum() < got.size  # some tokens cut, some kept
