"""Stage 3: a byte-level BPE tokenizer that ``GPT2TokenizerFast`` can load."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("pipeline")

EOS = "<|endoftext|>"


def train_tokenizer(texts: Iterable[str], directory: Path, vocab_size: int) -> Path:
    """Train a byte-level BPE on ``texts`` and save it GPT-2 style in ``directory``.

    ``<|endoftext|>`` is the only special token (id 0) and serves as bos, eos and
    unk, as in GPT-2; it is also used as the padding id by the packer.
    """
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts,
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        show_progress=False,
    )
    bpe.save_model(str(directory))
    # Re-save through transformers so tokenizer.json / tokenizer_config.json /
    # special_tokens_map.json exist and from_pretrained(dir) just works.
    tok = GPT2TokenizerFast(
        vocab_file=str(directory / "vocab.json"),
        merges_file=str(directory / "merges.txt"),
        bos_token=EOS,
        eos_token=EOS,
        unk_token=EOS,
    )
    tok.model_max_length = 1024
    tok.save_pretrained(str(directory))
    log.info("tokenizer: %d tokens saved to %s", len(tok), directory)
    return directory


def load_tokenizer(directory: Path):
    """Load the tokenizer saved by :func:`train_tokenizer`."""
    from transformers import GPT2TokenizerFast

    return GPT2TokenizerFast.from_pretrained(str(directory))  # nosec B615
