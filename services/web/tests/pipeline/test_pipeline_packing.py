"""Packing of paragraphs into training windows and the document split."""

import numpy as np
import pytest

from pipeline.packing import pack_document, to_arrays
from pipeline.split import split_documents

NL, EOS = 99, 0


def test_short_document_is_one_window_with_newlines_and_eos():
    assert pack_document([[1, 2], [3]], 16, [NL], EOS) == [[1, 2, NL, 3, EOS]]


def test_windows_start_at_paragraphs_and_are_full():
    paras = [[1] * 4, [2] * 4, [3] * 4]
    windows = pack_document(paras, 8, [NL], EOS)
    assert all(len(w) == 8 for w in windows[:-1])
    # The cut paragraph starts the next window again, from its beginning.
    assert windows[0] == [1, 1, 1, 1, NL, 2, 2, 2]
    assert windows[1] == [2, 2, 2, 2, NL, 3, 3, 3]
    assert windows[2] == [3, 3, 3, 3, EOS]


def test_long_paragraph_is_split_without_losing_tokens():
    para = list(range(1, 21))
    windows = pack_document([para], 8, [NL], EOS)
    assert [t for w in windows for t in w if t != EOS] == para
    assert windows[-1][-1] == EOS


def test_every_paragraph_is_seen_whole():
    paras = [[i] * n for i, n in enumerate([5, 9, 2, 7, 1, 3], start=1)]
    windows = pack_document(paras, 6, [NL], EOS)
    assert all(len(w) <= 6 for w in windows)
    for para in paras:
        if len(para) > 6:
            continue
        # Whole and from its start: at a window start or right after a newline.
        assert any(
            w[i : i + len(para)] == para and (i == 0 or w[i - 1] == NL)
            for w in windows
            for i in range(len(w))
        ), para


def test_empty_document_and_bad_block_size():
    assert pack_document([], 8, [NL], EOS) == []
    with pytest.raises(ValueError):
        pack_document([[1]], 1, [NL], EOS)


def test_to_arrays_pads_and_masks():
    ids, mask = to_arrays([[5, 6, 7], [8]], 4, pad_id=EOS)
    assert ids.dtype == np.int32 and mask.dtype == np.float32
    assert ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]


def test_split_is_by_document_deterministic_and_disjoint():
    docs = [f"doc{i}" for i in range(40)]
    train, val = split_documents(docs, 0.1, seed=7)
    assert (train, val) == split_documents(docs, 0.1, seed=7)
    assert len(val) == 4 and set(train).isdisjoint(val)
    assert sorted(train + val) == sorted(docs)
    assert split_documents(docs, 0.1, seed=8)[1] != val


def test_split_keeps_one_document_each_side():
    assert split_documents(["a", "b"], 0.01, seed=0)[1] in (["a"], ["b"])
    with pytest.raises(ValueError):
        split_documents(["a"], 0.0, seed=0)
