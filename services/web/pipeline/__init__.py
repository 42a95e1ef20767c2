"""Training pipeline for the bundled seed model (``debian-docs-gpt2``).

Stages: download pinned Debian documentation packages -> extract clean English
paragraphs -> train a byte-level BPE tokenizer -> train a small TensorFlow GPT-2
for a bounded time -> save the model with ``metadata.json`` and ``SAMPLES.md``.

Run from ``services/web``: ``python -m pipeline train --max-minutes 25``.
This package may import ``textgen`` but never the Flask app ``docdraft``.
"""
