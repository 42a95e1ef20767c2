"""Stage 5: SAMPLES.md with real beam-search continuations of the saved model."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("pipeline")

PROMPTS = (
    "The Debian project",
    "To install a package with apt,",
    "The maintainer of a package should",
    "A virtual environment in Python",
    "Security updates are",
)
SETTINGS = {
    "max_length": 100,
    "num_beams": 5,
    "no_repeat_ngram_size": 4,
    "early_stopping": True,
    "min_new_tokens": 20,
}


def _generate_plain(model_dir: Path, prompts) -> list[str]:
    """Fallback: model.generate with the textgen default settings."""
    from transformers import GPT2TokenizerFast, TFGPT2LMHeadModel

    tok = GPT2TokenizerFast.from_pretrained(str(model_dir))  # nosec B615
    model = TFGPT2LMHeadModel.from_pretrained(str(model_dir))  # nosec B615
    outs = []
    for prompt in prompts:  # one at a time: no padding questions
        ids = tok(prompt, return_tensors="tf")
        gen = model.generate(**ids, pad_token_id=tok.eos_token_id, **SETTINGS)
        outs.append(
            tok.decode(gen[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        )
    return outs


def generate(model_dir: Path, prompts) -> tuple[list[str], str]:
    """Continuations via ``textgen.Generator`` when available, else plain generate."""
    try:
        from textgen import GenerationSettings, Generator

        gen = Generator.load(str(model_dir), GenerationSettings(), warmup=False)
        return list(gen.generate(list(prompts))), "textgen.Generator"
    except Exception as exc:  # textgen is developed in parallel; fall back
        log.warning("textgen unavailable (%s); using model.generate", exc)
        return _generate_plain(model_dir, prompts), "TFGPT2LMHeadModel.generate"


def render_samples(samples: list[tuple[str, str]], how: str) -> str:
    """Markdown for SAMPLES.md (pure)."""
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
    lines = [
        "# Samples from debian-docs-gpt2",
        "",
        f"Generated with {how}, beam search: {settings}.",
        "Real, unedited outputs; the prompt is in bold, the continuation follows.",
        "",
    ]
    for i, (prompt, cont) in enumerate(samples, 1):
        lines += [f"## Sample {i}", "", f"**{prompt}**{cont}", ""]
    return "\n".join(lines)


def write_samples(model_dir: Path, path: Path, prompts=PROMPTS) -> Path:
    """Generate continuations for ``prompts`` and write them to ``path``."""
    conts, how = generate(model_dir, prompts)
    path.write_text(
        render_samples(list(zip(prompts, conts, strict=True)), how), encoding="utf-8"
    )
    log.info("wrote %s", path)
    return path
