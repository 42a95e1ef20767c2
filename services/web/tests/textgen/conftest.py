"""Fixtures for the textgen tests: tiny real GPT-2s, built once per session.

Every test runs real TensorFlow (and XLA) on a 2-layer, width-32 model; the
settings are small (short lengths, 3 beams) so compiles and runs stay quick.
"""

import pytest

from textgen import GenerationSettings, Generator
from textgen.tiny import build_tiny_gpt2

# Small but complete: beams, no-repeat n-grams, EOS suppression, two buckets.
TEST_SETTINGS = GenerationSettings(
    max_new_tokens=20,
    longest=30,
    num_beams=3,
    no_repeat_ngram_size=3,
    early_stopping=True,
    min_new_tokens=6,
    length_buckets=(8, 16),
    warm_buckets=(8,),
)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random GPT-2 saved with save_pretrained (model + tokenizer)."""
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def eos_model_dir(tmp_path_factory):
    """A tiny GPT-2 that ends at once unless EOS is suppressed."""
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-eos"), eos_boost=1000.0)


@pytest.fixture(scope="session")
def tiny_generator(tiny_model_dir):
    """The engine on the tiny model, compiled lazily (batch sizes 1 and 4)."""
    return Generator.load(
        str(tiny_model_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1, 4)
    )
