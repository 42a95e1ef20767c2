"""Tokenise documents and pack them into training/validation arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.extract import Document
from pipeline.packing import pack_document, to_arrays


def encode_documents(documents: Sequence[Document], tokenizer) -> list[list[list[int]]]:
    """Token ids of every paragraph of every document (no special tokens)."""
    out = []
    for doc in documents:
        enc = tokenizer(doc.paragraphs, add_special_tokens=False)["input_ids"]
        out.append([list(ids) for ids in enc])
    return out


def build_arrays(
    encoded: Sequence[Sequence[Sequence[int]]], tokenizer, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pack encoded documents into padded ``ids`` / ``mask`` arrays."""
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    windows = [
        w for doc in encoded for w in pack_document(doc, block_size, newline, eos)
    ]
    return to_arrays(windows, block_size, pad_id=eos)


def count_tokens(encoded: Sequence[Sequence[Sequence[int]]]) -> int:
    """Number of paragraph tokens (separators and padding not counted)."""
    return sum(len(p) for doc in encoded for p in doc)
