"""The Generator: load once, then generate continuations for lists of prompts."""

from __future__ import annotations

import ctypes
import logging
import threading
import time

import numpy as np

from . import loading
from .eager import strip_after_eos
from .program import BeamProgram
from .prompts import PreparedPrompt, prepare_prompt, usable_buckets
from .settings import GenerationSettings

log = logging.getLogger("textgen")

# Compiled batch sizes: a lone job runs alone, waiting jobs run up to 4 at a
# time (see plan_batches; each size costs one more compile per bucket).  Not 8:
# at 124M on 2 cores 8 prompts took as long as two batches of 4 (3.0 s per
# document either way: past 4 prompts the per-row key/value cache work, not the
# shared weights, dominates a step), but 8 needed twice the temporary memory
# (worker peak RSS 2.7 GB vs 2.3 GB).
DEFAULT_BATCH_SIZES = (1, 4)


class Generator:
    """A loaded model plus its compiled generation programs."""

    def __init__(
        self,
        tokenizer,
        model,
        info: loading.ModelInfo,
        settings: GenerationSettings | None = None,
        *,
        batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
        jit: bool = True,
    ):
        self.tokenizer = tokenizer
        self.model = model
        self.info = info
        self.settings = settings or GenerationSettings()
        self.batch_sizes = _batch_sizes(self.settings, batch_sizes)
        self.jit = jit
        self.eos_id = int(model.config.eos_token_id)
        self.buckets = usable_buckets(self.settings, int(model.config.n_positions))
        self._programs: dict[tuple[int, int], BeamProgram] = {}
        self._lock = threading.Lock()  # one trace per program, even with threads

    @classmethod
    def load(
        cls,
        reference: str | None = None,
        settings: GenerationSettings | None = None,
        warmup: bool = True,
        **options,
    ) -> Generator:
        """Resolve, load (once) and, with `warmup`, compile every program now.

        Raises ModelLoadError (one clear line) if the model cannot be loaded.
        `options` go to the constructor (batch_sizes, jit).
        """
        reference = loading.resolve_model_reference(reference)
        tokenizer, model, info = loading.load(reference)
        try:
            generator = cls(tokenizer, model, info, settings, **options)
        except ValueError as exc:
            raise loading.ModelLoadError(f"{info.name}: {exc}") from exc
        if warmup:
            generator.warmup()
        return generator

    def program(self, bucket: int, batch_size: int) -> BeamProgram:
        """The (cached) program for one bucket and batch size."""
        key = (bucket, batch_size)
        with self._lock:
            if key not in self._programs:
                self._programs[key] = BeamProgram(
                    self.model, self.settings, bucket, batch_size, self.eos_id, self.jit
                )
        return self._programs[key]

    def warmup(self) -> float:
        """Compile every (bucket, batch size) program; return the seconds spent.

        Each program runs once with stop=True (all rows end at the first step),
        so warm-up pays for tracing and compiling, not for whole documents.
        Largest programs first, freed heap handed back before each: a program's
        first run needs temporary memory for its whole search (~0.9 GB at 124M,
        bucket 64, batch 8), so the peak stays lowest when that comes on top of
        the smallest resident set (batch 8: measured 2.5 GB instead of 3.1 GB).
        """
        start = time.perf_counter()
        token = (self.eos_id + 1) % int(self.model.config.vocab_size)
        for batch_size, bucket in warmup_order(self.buckets, self.batch_sizes):
            release_free_heap()
            tick = time.perf_counter()
            ids, mask = left_pad([(token,)] * batch_size, bucket, self.eos_id)
            self.program(bucket, batch_size)(ids, mask, stop=True).numpy()
            log.info(
                "compiled bucket %d, batch %d in %.1f s",
                bucket,
                batch_size,
                time.perf_counter() - tick,
            )
        release_free_heap()
        return time.perf_counter() - start

    def prepare(self, prompt: str) -> PreparedPrompt:
        """Validate, tokenize, truncate and bucket one prompt."""
        return prepare_prompt(self.tokenizer, prompt, self.buckets)

    def generate(self, prompts: list[str]) -> list[str]:
        """The continuation (prompt excluded, never empty) of every prompt, in order."""
        return [
            self.tokenizer.decode(ids, skip_special_tokens=True)
            for ids in self.generate_ids(prompts)
        ]

    def generate_ids(self, prompts: list[str]) -> list[list[int]]:
        """New token ids per prompt; prompts of one bucket run batched together."""
        if isinstance(prompts, str):
            raise TypeError("generate() takes a list of prompts, not a string")
        prepared = [self.prepare(prompt) for prompt in prompts]
        results: list[list[int] | None] = [None] * len(prepared)
        for bucket in sorted({p.bucket for p in prepared}):
            members = [i for i, p in enumerate(prepared) if p.bucket == bucket]
            start = 0
            for size in plan_batches(len(members), self.batch_sizes):
                chunk = members[start : start + size]
                start += len(chunk)
                outputs = self._run(bucket, [prepared[i] for i in chunk], size)
                for index, tokens in zip(chunk, outputs, strict=True):
                    results[index] = tokens
        return results

    def _run(
        self, bucket: int, prompts: list[PreparedPrompt], size: int | None = None
    ) -> list[list[int]]:
        """One compiled call of batch `size`, padded with copies of the last prompt."""
        size = size or next(s for s in self.batch_sizes if s >= len(prompts))
        rows = list(prompts) + [prompts[-1]] * (size - len(prompts))
        input_ids, mask = left_pad([p.ids for p in rows], bucket, self.eos_id)
        start = time.perf_counter()
        output = self.program(bucket, size)(input_ids, mask).numpy()
        log.debug(
            "bucket %d: %d prompts (batch %d) in %.2f s",
            bucket,
            len(prompts),
            size,
            time.perf_counter() - start,
        )
        return [
            strip_after_eos(row[bucket:].tolist(), self.eos_id)
            for row in output[: len(prompts)]
        ]


def warmup_order(buckets, batch_sizes) -> list[tuple[int, int]]:
    """(batch size, bucket) pairs, the most memory-hungry program first."""
    return sorted(
        ((size, bucket) for size in batch_sizes for bucket in buckets), reverse=True
    )


def release_free_heap() -> None:
    """Hand freed heap pages back to the OS (glibc's malloc_trim; no-op elsewhere).

    glibc keeps what loading the weights and compiling freed: without this the
    worker held ~0.4 GB more after loading and ~0.15 GB more per program.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _batch_sizes(settings: GenerationSettings, sizes) -> tuple[int, ...]:
    """Sorted compiled batch sizes (always including 1).

    With early_stopping=False a finished row of a batch keeps being searched
    while other rows run, and may find a better-scoring hypothesis than it
    would alone; batched output would then differ from unbatched, so such
    settings run one prompt per call.
    """
    if not settings.early_stopping:
        log.info("early_stopping=False: prompts run one per call, not batched")
        return (1,)
    return tuple(sorted(set(sizes) | {1}))


def plan_batches(count: int, sizes: tuple[int, ...]) -> list[int]:
    """Compiled batch sizes to run `count` prompts with (their sum may exceed it).

    A batch costs far less than its size in single calls but more than one
    call, so a batch is padded up only when at least half full; otherwise the
    largest size that fills exactly is used (ultimately size 1).
    """
    plan = []
    while count > 0:
        up = next((s for s in sizes if s >= count), sizes[-1])
        down = max((s for s in sizes if s <= count), default=up)
        size = up if min(count, up) * 2 >= up else down
        plan.append(size)
        count -= size
    return plan


def left_pad(rows, length: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Left-pad token rows to `length`; return (ids, attention mask)."""
    ids = np.full((len(rows), length), pad_id, dtype=np.int32)
    mask = np.zeros((len(rows), length), dtype=np.int32)
    for i, row in enumerate(rows):
        ids[i, length - len(row) :] = row
        mask[i, length - len(row) :] = 1
    return ids, mask
