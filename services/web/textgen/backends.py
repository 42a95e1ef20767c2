"""Choosing the engine: TensorFlow (default) or CTranslate2 (TEXTGEN_BACKEND).

Both give the same interface (load, prepare, generate(requests, on_compile),
generate_ids, info, settings, tokenizer), the same settings and the same
prompt windows, so the worker does not know which one runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from . import loading
from .interface import TextGenerator
from .settings import GenerationSettings

log = logging.getLogger("textgen")
BACKENDS = ("tf", "ctranslate2")
# The converted copy lives beside the weights it came from (make model).
CT2_DIRECTORY = "ctranslate2"


def load_generator(
    reference: str | None = None,
    settings: GenerationSettings | None = None,
    backend: str | None = None,
    **options,
):
    """The configured engine, loaded (and, for TF, warmed up) once."""
    backend = (backend or os.environ.get("TEXTGEN_BACKEND") or "tf").strip().lower()
    if backend == "tf":
        from .engine import Generator

        return Generator.load(reference, settings, **options)
    if backend == "ctranslate2":
        options.pop("batch_sizes", None)
        return CT2Generator.load(reference, settings, **options)
    raise loading.ModelLoadError(
        f"TEXTGEN_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}"
    )


def gpt2_parameter_count(config: dict) -> int:
    """Parameters of a GPT-2 from its config (the head is tied to wte)."""
    d, layers = config["n_embd"], config["n_layer"]
    per_layer = 12 * d * d + 13 * d
    return (
        (config["vocab_size"] + config["n_positions"]) * d + layers * per_layer + 2 * d
    )


def converted_copy(directory: Path, convert_if_missing: bool = True) -> Path:
    """The CTranslate2 copy of a model directory, converted on first use.

    Stored in float32: CTranslate2 quantizes when it loads (int8 on a CPU,
    float16 on a GPU), so one copy serves both.
    """
    from . import ct2

    target = directory / CT2_DIRECTORY
    if (target / "model.bin").is_file():
        return target
    if not convert_if_missing:
        raise loading.ModelLoadError(f"no CTranslate2 copy in {target}: run make model")
    log.info("converting %s for CTranslate2 into %s", directory, target)
    try:
        return ct2.convert(directory, target, force=True)
    except OSError as exc:
        raise loading.ModelLoadError(
            f"cannot write the CTranslate2 copy {target}: {exc}; run make model "
            "where the model directory is writable"
        ) from exc


class CT2Generator(TextGenerator):
    """The Generator interface on CTranslate2 (int8 on a CPU, float16 on a GPU)."""

    backend = "ctranslate2"

    def __init__(self, tokenizer, runner, info, settings, n_positions):
        self.tokenizer = tokenizer
        self.runner = runner
        self.info = info
        self.settings = settings or GenerationSettings()
        self.n_positions = n_positions
        self.eos_id = runner.eos_id
        self._check_settings_fit()

    @classmethod
    def load(cls, reference=None, settings=None, warmup=True, compute_type=None):
        from transformers import GPT2TokenizerFast

        from .ct2 import CT2Runner
        from .files import sha256_file

        reference = loading.resolve_model_reference(reference)
        directory = loading.locate(reference)
        config = loading.read_config(directory)
        copy = converted_copy(directory)
        try:
            runner = CT2Runner(copy, compute_type=compute_type)
            tokenizer = GPT2TokenizerFast.from_pretrained(copy)  # nosec B615
        except Exception as exc:
            raise loading.ModelLoadError(
                f"cannot load the CTranslate2 copy in {copy}: {exc}"
            ) from exc
        info = loading.ModelInfo(
            name=loading.model_name(reference, directory),
            reference=reference,
            n_parameters=gpt2_parameter_count(config),
            vocab_size=int(config["vocab_size"]),
            weights_sha256=sha256_file(loading.weights_file(directory)),
        )
        log.info(
            "loaded %s on CTranslate2 (%s, %s)",
            info.name,
            runner.device,
            runner.compute_type,
        )
        try:
            return cls(tokenizer, runner, info, settings, int(config["n_positions"]))
        except ValueError as exc:
            raise loading.ModelLoadError(f"{info.name}: {exc}") from exc

    def generate_ids(self, requests, on_compile=None) -> list[list[int]]:
        """New token ids per request; nothing to compile, so `on_compile` is unused."""
        requests, prepared = self._prepared(requests)
        groups: dict[tuple, list[int]] = {}
        for index, (request, prompt) in enumerate(zip(requests, prepared, strict=True)):
            groups.setdefault((request.mode, prompt.new_tokens), []).append(index)
        settings = self.settings
        results: list[list[int] | None] = [None] * len(requests)
        for (mode, new_tokens), members in groups.items():
            outputs = self.runner.generate_ids(
                [list(prepared[i].ids) for i in members],
                max_new_tokens=new_tokens,
                min_new_tokens=min(settings.min_new_tokens, new_tokens),
                num_beams=settings.num_beams,
                no_repeat_ngram_size=settings.no_repeat_ngram_size,
                early_stopping=settings.early_stopping,
                mode=mode,
                top_p=settings.top_p,
                temperature=settings.temperature,
                seeds=[requests[i].seed for i in members] if mode == "sample" else None,
            )
            for index, ids in zip(members, outputs, strict=True):
                results[index] = ids
        return results
