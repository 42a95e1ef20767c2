"""Byte-level BPE tokenizers trained in-process and loaded as GPT2TokenizerFast.

Both the seed-model pipeline (pipeline.tokenizer) and the tiny test model
(textgen.tiny) train their tokenizer here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"


def train_gpt2_tokenizer(
    texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2
):
    """Train a byte-level BPE on ``texts`` and return it as a GPT2TokenizerFast.

    ``<|endoftext|>`` is the only special token (id 0) and serves as bos, eos and
    unk, as in GPT-2.
    """
    bpe = _train_byte_level_bpe(texts, vocab_size, min_frequency)
    return _as_gpt2_tokenizer(bpe)


def _train_byte_level_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int):
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts,
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS_TOKEN],
        show_progress=False,
    )
    return bpe


def _as_gpt2_tokenizer(bpe):
    """Wrap ``bpe`` through its vocab.json and merges.txt, as GPT-2's are loaded.

    Built from the files, as the pipeline always built the seed model's
    tokenizer: wrapping ``tokenizer_object`` instead encodes the same but
    save_pretrained then writes slightly different tokenizer files.
    """
    from transformers import GPT2TokenizerFast

    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        return GPT2TokenizerFast(
            vocab_file=str(Path(tmp) / "vocab.json"),
            merges_file=str(Path(tmp) / "merges.txt"),
            bos_token=EOS_TOKEN,
            eos_token=EOS_TOKEN,
            unk_token=EOS_TOKEN,
        )
