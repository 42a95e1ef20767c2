"""Train/validation split by document, so no page leaks into both sides."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split_documents(
    documents: Sequence[T], val_fraction: float, seed: int
) -> tuple[list[T], list[T]]:
    """Shuffle document indices with ``seed`` and hold out ``val_fraction`` of them.

    At least one document goes to each side when there are two or more, so a tiny
    corpus still yields a validation loss. The input order is kept within each
    side, which keeps the result independent of how the shuffle is consumed.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be between 0 and 1")
    n = len(documents)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_val = min(max(1, round(n * val_fraction)), n - 1) if n >= 2 else 0
    val_idx = set(order[:n_val])
    train = [d for i, d in enumerate(documents) if i not in val_idx]
    val = [d for i, d in enumerate(documents) if i in val_idx]
    return train, val
