"""Prompt validation, left truncation and length buckets."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .settings import GenerationSettings

log = logging.getLogger("textgen")


@dataclass(frozen=True)
class PreparedPrompt:
    """A tokenized prompt and the bucket (padded length) it runs in."""

    ids: tuple[int, ...]
    bucket: int
    cut: int = 0  # tokens dropped from the start to fit the largest bucket


def usable_buckets(settings: GenerationSettings, n_positions: int) -> tuple[int, ...]:
    """Buckets whose prompt plus new tokens fit in the model's window."""
    buckets = tuple(
        b for b in settings.length_buckets if b + settings.new_tokens(b) <= n_positions
    )
    if not buckets:
        raise ValueError(
            f"settings do not fit the model window of {n_positions} tokens "
            f"(max_length={settings.max_length}, "
            f"min_new_tokens={settings.min_new_tokens}, "
            f"buckets={list(settings.length_buckets)})"
        )
    return buckets


def prepare_prompt(tokenizer, prompt: str, buckets: tuple[int, ...]) -> PreparedPrompt:
    """Tokenize; cut from the left to the largest bucket; pick the bucket.

    Cutting from the left keeps the end of the prompt, which is what the
    continuation has to follow.  An empty or blank prompt is a ValueError.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty")
    ids = tokenizer(prompt)["input_ids"]
    limit = buckets[-1]
    cut = max(len(ids) - limit, 0)
    if cut:
        log.info("prompt of %d tokens cut from the left to %d tokens", len(ids), limit)
        ids = ids[cut:]
    bucket = next(b for b in buckets if b >= len(ids))
    return PreparedPrompt(ids=tuple(ids), bucket=bucket, cut=cut)
