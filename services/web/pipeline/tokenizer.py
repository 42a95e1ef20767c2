"""Stage 3: a byte-level BPE tokenizer that ``GPT2TokenizerFast`` can load."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("pipeline")


def train_tokenizer(texts: Iterable[str], directory: Path, vocab_size: int) -> Path:
    """Train a byte-level BPE on ``texts`` and save it GPT-2 style in ``directory``.

    ``<|endoftext|>`` is the only special token (id 0) and serves as bos, eos and
    unk, as in GPT-2; it is also used as the padding id by the packer.
    """
    from textgen.bpe import train_gpt2_tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    tok = train_gpt2_tokenizer(texts, vocab_size, min_frequency=2)
    tok.model_max_length = 1024
    # save_pretrained writes tokenizer.json / tokenizer_config.json /
    # special_tokens_map.json too, so from_pretrained(dir) just works.
    tok.save_pretrained(str(directory))
    log.info("tokenizer: %d tokens saved to %s", len(tok), directory)
    return directory


def load_tokenizer(directory: Path):
    """Load the tokenizer saved by :func:`train_tokenizer`."""
    from transformers import GPT2TokenizerFast

    return GPT2TokenizerFast.from_pretrained(str(directory))  # nosec B615
