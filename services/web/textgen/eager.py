"""The original's way: transformers' eager `generate` with its own processors.

This is the reference the fast path must reproduce token for token (same
settings, same number of new tokens) and the baseline of the benchmark.
"""

from __future__ import annotations

import tensorflow as tf

from .program import generation_config
from .settings import GenerationSettings


def eager_generate_ids(
    model, prompt_ids, settings: GenerationSettings, eos_id: int, new_tokens: int
) -> list[int]:
    """New token ids for one unpadded prompt, eager TF, stopping before EOS."""
    ids = tf.constant([list(prompt_ids)], tf.int32)
    config = generation_config(settings, eos_id, new_tokens, len(prompt_ids))
    output = model.generate(
        ids, attention_mask=tf.ones_like(ids), generation_config=config
    )
    return strip_after_eos(output[0, len(prompt_ids) :].numpy().tolist(), eos_id)


def original_generate_ids(model, prompt_ids, eos_id: int) -> list[int]:
    """New token ids from the original's own call, word for word (SEED_NOTES):
    max_length=100 counting the prompt, beam 5, no-repeat 4, early stopping.
    Only pad_token_id is added, to silence a warning; it changes no token."""
    ids = tf.constant([list(prompt_ids)], tf.int32)
    output = model.generate(
        ids,
        max_length=100,
        num_beams=5,
        no_repeat_ngram_size=4,
        early_stopping=True,
        pad_token_id=eos_id,
    )
    return strip_after_eos(output[0, len(prompt_ids) :].numpy().tolist(), eos_id)


def strip_after_eos(tokens: list[int], eos_id: int) -> list[int]:
    """Tokens before the first EOS (beam search pads finished rows with EOS)."""
    return tokens[: tokens.index(eos_id)] if eos_id in tokens else tokens
