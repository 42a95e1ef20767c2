"""Packing of tokenised documents into fixed-size training windows.

Consecutive paragraphs of one document stay together, separated by a newline,
so the model learns that text goes on after a paragraph ends. (Training on one
paragraph per example, each followed by end-of-text, taught a previous model to
stop at once, and beam search then returned empty continuations.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pack_document(
    paragraphs: Sequence[Sequence[int]],
    block_size: int,
    newline_ids: Sequence[int],
    eos_id: int,
) -> list[list[int]]:
    """Cut one document's paragraphs into windows of at most ``block_size`` tokens.

    Each window starts at a paragraph start (or, for a paragraph longer than a
    window, where the previous window cut it) and is filled with following
    paragraphs joined by ``newline_ids``; the last paragraph may be cut off to
    fill the window, and the next window starts again at that paragraph, so
    every paragraph is also seen from its beginning. The document's last window
    ends with ``eos_id`` when it fits. Only the last window can be short.
    """
    if block_size < 2:
        raise ValueError("block_size must be at least 2")
    paras = [list(p) for p in paragraphs if len(p)]
    windows: list[list[int]] = []
    i, offset = 0, 0  # next paragraph, and position inside it
    while i < len(paras):
        window: list[int] = []
        j, pos = i, offset
        next_i, next_offset = None, 0
        while j < len(paras):
            if window:
                window.extend(newline_ids)
            room = block_size - len(window)
            piece = paras[j][pos:]
            if room <= 0:
                # The separator filled the window: restart at paragraph j.
                next_i, next_offset = j, 0
                break
            if len(piece) > room:
                window.extend(piece[:room])
                if j == i:  # a long first paragraph continues where it was cut
                    next_i, next_offset = j, pos + room
                else:
                    next_i, next_offset = j, 0
                break
            window.extend(piece)
            j, pos = j + 1, 0
        if next_i is None:  # the rest of the document fitted
            if len(window) < block_size:
                window.append(eos_id)
            windows.append(window[:block_size])
            break
        windows.append(window[:block_size])
        i, offset = next_i, next_offset
    return windows


def to_arrays(
    windows: Sequence[Sequence[int]], block_size: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad windows into an int32 ``ids`` array and a float32 loss ``mask``.

    With causal attention, right padding cannot influence real positions, so only
    the loss needs masking (mask is 1 on real tokens, 0 on padding).
    """
    ids = np.full((len(windows), block_size), pad_id, dtype=np.int32)
    mask = np.zeros((len(windows), block_size), dtype=np.float32)
    for row, window in enumerate(windows):
        n = min(len(window), block_size)
        ids[row, :n] = window[:n]
        mask[row, :n] = 1.0
    return ids, mask
