"""Prompt validation, the prompt window, left truncation and length buckets."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .settings import GenerationSettings

log = logging.getLogger("textgen")


@dataclass(frozen=True)
class PreparedPrompt:
    """A tokenized prompt, the bucket it runs in and how many tokens follow it."""

    ids: tuple[int, ...]
    bucket: int
    new_tokens: int
    cut: int = 0  # tokens dropped from the start to fit the window


def prompt_window(buckets: tuple[int, ...], n_positions: int, new_tokens: int) -> int:
    """The most prompt tokens read: the largest bucket that leaves room for
    `new_tokens` in the model's context (GPT-2: 768 of 1024)."""
    fitting = [b for b in buckets if b + new_tokens <= n_positions]
    if not fitting:
        raise ValueError(
            f"{new_tokens} new tokens leave no room for a prompt in the model's "
            f"context of {n_positions} tokens"
        )
    return fitting[-1]


def prepare_prompt(
    tokenizer,
    prompt: str,
    settings: GenerationSettings,
    n_positions: int,
    requested: int | None = None,
) -> PreparedPrompt:
    """Tokenize; cut from the left to the window; pick the bucket and length.

    Cutting from the left keeps the end of the prompt, which is what the
    continuation has to follow.  An empty or blank prompt is a ValueError.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty")
    if requested is not None and requested > settings.most_new_tokens:
        raise ValueError(
            f"{requested} new tokens is more than this engine's "
            f"{settings.most_new_tokens}"
        )
    buckets = settings.length_buckets
    ids = tokenizer(prompt)["input_ids"]
    limit = prompt_window(
        buckets, n_positions, settings.new_tokens(len(ids), requested)
    )
    cut = max(len(ids) - limit, 0)
    if cut:
        log.info("prompt of %d tokens cut from the left to %d tokens", len(ids), limit)
        ids = ids[cut:]
    bucket = next(b for b in buckets if b >= len(ids))
    # The original's rule can ask for more after a cut; the context still bounds it.
    new_tokens = min(settings.new_tokens(len(ids), requested), n_positions - bucket)
    return PreparedPrompt(ids=tuple(ids), bucket=bucket, new_tokens=new_tokens, cut=cut)
