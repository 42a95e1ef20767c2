"""Fast path versus eager generate on the seed model, 20 fixed prompts.

Slow (eager beam search on a real model), so it runs only on request:
    TEXTGEN_SEED_CHECK=1 python -m pytest tests/textgen/test_seed_equivalence.py
(or `python -m textgen check models/seedmodels/debian-docs-gpt2`).
"""

import os

import pytest

from textgen import Generator
from textgen.equivalence import FIXED_PROMPTS, compare
from textgen.loading import SEED_MODEL_DIR

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("TEXTGEN_SEED_CHECK") != "1",
        reason="slow; set TEXTGEN_SEED_CHECK=1",
    ),
    pytest.mark.skipif(
        not (SEED_MODEL_DIR / "config.json").is_file(), reason="no seed model yet"
    ),
]


def test_fast_path_equals_eager_on_20_prompts():
    generator = Generator.load(str(SEED_MODEL_DIR), warmup=False)
    differences = compare(generator, FIXED_PROMPTS)
    report = [
        f"{d.prompt!r}: first difference at token {d.first_diff}" for d in differences
    ]
    assert not differences, "\n".join(report)
