"""Choosing the engine: TensorFlow (default) or CTranslate2.

The caller names the backend (the app: TEXTGEN_BACKEND, read by
docdraft.config); textgen reads no environment for it.

Both give the same interface (load, prepare, generate(requests, on_compile),
generate_ids, running_batch, info, settings, tokenizer), the same settings
and the same prompt windows, so the worker does not know which one runs.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from . import loading
from .interface import TextGenerator
from .running import Finished, RunningBatch
from .settings import GenerationSettings

log = logging.getLogger("textgen")
BACKENDS = ("tf", "ctranslate2")
# The converted copy lives beside the weights it came from (make model).
CT2_DIRECTORY = "ctranslate2"


def load_generator(
    reference: str | None = None,
    settings: GenerationSettings | None = None,
    backend: str = "tf",
    **options,
):
    """The engine `backend` names, loaded (and, for TF, warmed up) once."""
    backend = (backend or "tf").strip().lower()
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
    from .ct2_convert import convert

    target = directory / CT2_DIRECTORY
    if (target / "model.bin").is_file():
        return target
    if not convert_if_missing:
        raise loading.ModelLoadError(f"no CTranslate2 copy in {target}: run make model")
    log.info("converting %s for CTranslate2 into %s", directory, target)
    try:
        return convert(directory, target, force=True)
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

        from .ct2_run import CT2Runner
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
        results: list[list[int] | None] = [None] * len(requests)
        for (mode, new_tokens), members in groups.items():
            outputs = self.runner.generate_ids(
                [list(prepared[i].ids) for i in members],
                seeds=[requests[i].seed for i in members] if mode == "sample" else None,
                **self.search(mode, new_tokens),
            )
            for index, ids in zip(members, outputs, strict=True):
                results[index] = ids
        return results

    def search(self, mode: str, new_tokens: int) -> dict:
        """The runner's search arguments for a request of `mode` and length."""
        settings = self.settings
        return dict(
            max_new_tokens=new_tokens,
            min_new_tokens=min(settings.min_new_tokens, new_tokens),
            num_beams=settings.num_beams,
            no_repeat_ngram_size=settings.no_repeat_ngram_size,
            early_stopping=settings.early_stopping,
            mode=mode,
            top_p=settings.top_p,
            temperature=settings.temperature,
        )

    def running_batch(self, rows: int = 8, **options) -> CT2RunningBatch:
        """Requests start as soon as admitted and leave when done (CT2RunningBatch)."""
        return CT2RunningBatch(self, rows, **options)


class CT2RunningBatch(RunningBatch):
    """A running batch on CTranslate2: one asynchronous call per row.

    What ctranslate2 can do: run several calls at once (a replica pool,
    inter_threads = rows, the replicas sharing one copy of the weights) and
    say without blocking whether a call has ended.  What it cannot do: add a
    row to a beam search that is running, or drop one from it; each call is
    its own search from start to end.  So every admitted request is its own
    one-prompt call (ct2_submission.Submission), started at the next `advance`, and
    `advance` waits up to `chunk_s` for any call to end and returns every
    row that has.  A row's text is exactly `generate([request])` alone; it
    is not what a `generate` of several beam prompts gives, whose shared
    call bans the n-grams of all its prompts (ct2_run.CT2Runner._beam_batch).

    The price: rows do not share a matrix product.  Each runs its own beams
    on `threads_per_row` threads (default: the cores divided among the rows,
    at least one), so a full batch is slower per document than one
    `generate` call of as many beam prompts; a request no longer waits for
    the rows before it to end (bench/arrivals.py measures both).  A seeded
    sample loads its own Generator when admitted, as `generate` does for it
    (ct2_run.CT2Runner._sample_one), and starts once no other seeded row is
    between its start and its first drawn token.  Measured on CPU only.
    """

    POLL_S = 0.005  # ctranslate2 has no "wait for any": done() is polled

    def __init__(self, generator, rows, threads_per_row=None, chunk_s=0.1):
        super().__init__(generator, rows)
        if chunk_s < 0:
            raise ValueError(f"chunk_s must be >= 0, got {chunk_s}")
        self.threads = threads_per_row or max(1, len(os.sched_getaffinity(0)) // rows)
        self.chunk_s = chunk_s
        self.replicas = generator.runner.replica_pool(rows, self.threads)
        self._rows: dict = {}  # key -> ct2_submission.Submission, by admission

    def __len__(self) -> int:
        return len(self._rows)

    def keys(self) -> list:
        return list(self._rows)

    def admit(self, key, request):
        prepared = self._check_admit(key, request)
        self._rows[key] = self.generator.runner.submission(
            prepared.ids,
            replicas=self.replicas,
            intra_threads=self.threads,
            seed=request.seed if request.mode == "sample" else None,
            **self.generator.search(request.mode, prepared.new_tokens),
        )
        return prepared

    def advance(self, on_compile=None) -> list[Finished]:
        """Start what was admitted; wait up to `chunk_s` for rows to end.

        Returns as soon as one row has ended (with every row that has), or
        after `chunk_s` with none.  Nothing compiles: `on_compile` is unused.
        A call that failed is dropped and its error raised, naming the row;
        rows that ended beside it come with the next `advance`.
        """
        deadline = time.monotonic() + self.chunk_s
        while True:
            self._start_waiting()
            ended = [key for key, row in self._rows.items() if row.done()]
            if ended or not self._rows or time.monotonic() >= deadline:
                break
            time.sleep(self.POLL_S)
        for key in ended:
            error = self._rows[key].error()
            if error is not None:
                del self._rows[key]
                error.add_note(f"in running batch row {key!r}")
                raise error
        return [self._finish(key) for key in ended]

    def _start_waiting(self) -> None:
        """Submit the rows not started yet (a seeded sample may have to wait)."""
        for row in self._rows.values():
            if not row.started:
                row.start()

    def _finish(self, key) -> Finished:
        ids = self._rows.pop(key).ids()
        text = self.generator.tokenizer.decode(ids, skip_special_tokens=True)
        return Finished(key, ids, text)
