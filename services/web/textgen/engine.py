"""The Generator: load once, then generate continuations for lists of prompts."""

from __future__ import annotations

import ctypes
import logging
import threading
import time

import numpy as np

from . import layout, loading
from .chunked import ChunkProgram
from .eager import strip_after_eos
from .interface import TextGenerator
from .program import Program
from .prompts import PreparedPrompt
from .settings import GenerationSettings

log = logging.getLogger("textgen")

# Compiled batch sizes: a lone job runs alone, waiting jobs up to 8 at a time
# (see plan_batches).  At 124M on 2 cores a batch of 8 costs 20% less per
# document than two of 4 (a step: 133 ms for 4 documents, 212 ms for 8, make
# bench-step).  One traced program serves every size (program.py), but each
# size is one more XLA executable per warm bucket (~11 s to compile, ~25 MB):
# warm-up compiles batch 1 before the worker takes jobs, and 4 and 8 after,
# in the background.
DEFAULT_BATCH_SIZES = (1, 4, 8)
# Prompts in longer buckets run one per call: a batch of 4 at bucket 768
# holds 4 prompts' keys and values (~230 MB at 124M) plus 20 beams' new ones,
# and its prompt pass is the largest temporary of all.
BATCHED_BUCKET_LIMIT = 128
# Batches of more than 4 only up to this bucket.  A batch's new-token cache
# is sized for the longest suggestion whatever the bucket: at 8 documents
# ~660 MB at 124M (8 x 5 beams x 224 positions x 12 layers x keys and
# values), so every bucket with a batch of 8 compiled raised the peak, to
# 2.62 GB with buckets 16-128 (make bench --all-buckets) against 2.5.
LARGE_BATCH_BUCKET_LIMIT = 64


class Generator(TextGenerator):
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
        weight_layout: str = "auto",
    ):
        self.tokenizer = tokenizer
        self.weight_layout = _store_weights(model, weight_layout)
        self.model = model
        self.info = info
        self.settings = settings or GenerationSettings()
        self.batch_sizes = _batch_sizes(self.settings, batch_sizes)
        self.jit = jit
        self.eos_id = int(model.config.eos_token_id)
        self.n_positions = int(model.config.n_positions)
        self._check_settings_fit()
        self._programs: dict[str, Program] = {}  # by mode
        self._chunk_programs: dict[str, ChunkProgram] = {}  # by mode
        self._lock = threading.Lock()  # one trace per program, even with threads
        self._warming: threading.Thread | None = None  # warmup(background=True)

    @classmethod
    def load(
        cls,
        reference: str | None = None,
        settings: GenerationSettings | None = None,
        warmup: bool = True,
        **options,
    ) -> Generator:
        """Resolve, load (once) and, with `warmup`, compile what a worker
        serves with: the running-batch programs of the warm buckets, batch
        size 1 now, larger batches in the background (warmup_running).

        Raises ModelLoadError (one clear line) if the model cannot be loaded.
        `options` go to the constructor (batch_sizes, jit, weight_layout).
        """
        reference = loading.resolve_model_reference(reference)
        tokenizer, model, info = loading.load(reference)
        try:
            generator = cls(tokenizer, model, info, settings, **options)
        except ValueError as exc:
            raise loading.ModelLoadError(f"{info.name}: {exc}") from exc
        if warmup:
            generator.warmup_running(background=True)
        return generator

    def batch_sizes_for(self, bucket: int) -> tuple[int, ...]:
        """The batch sizes waiting prompts of `bucket` may run in.

        Long prompts run one at a time, and batches of 8 are for short ones:
        their caches are large (memory).
        While the background warm-up runs, only sizes already compiled (and
        1): eight waiting prompts run as two compiled batches of 4 rather
        than wait for 8 to compile.
        """
        sizes = self._memory_bounded_sizes(bucket)
        if self.warming():
            return tuple(
                size for size in sizes if size == 1 or self.is_compiled(bucket, size)
            )
        return sizes

    def continuous_batch_sizes(
        self, bucket: int, mode: str = "beam"
    ) -> tuple[int, ...]:
        """The batch sizes a running group of `bucket` may take (memory
        bounds); a running batch compiles what it needs, except while the
        background warm-up runs: then only sizes compiled already (and 1),
        so that a group does not wait for a compile the warm-up will do."""
        sizes = self._memory_bounded_sizes(bucket)
        if self.warming():
            program = self._chunk_programs.get(mode)
            return tuple(
                size
                for size in sizes
                if size == 1 or (program and program.is_chunked(size, bucket))
            )
        return sizes

    def _memory_bounded_sizes(self, bucket: int) -> tuple[int, ...]:
        if bucket > BATCHED_BUCKET_LIMIT:
            return (1,)
        sizes = self.batch_sizes
        if bucket > LARGE_BATCH_BUCKET_LIMIT:
            sizes = tuple(size for size in sizes if size <= 4)
        return sizes

    def running_batch(self, rows: int = 8, chunk_steps: int | None = None):
        """A ContinuousBatch (continuous.py): requests join a running search
        between chunks of `chunk_steps` tokens and leave as soon as they end."""
        from .continuous import DEFAULT_CHUNK_STEPS, ContinuousBatch

        return ContinuousBatch(self, rows, chunk_steps or DEFAULT_CHUNK_STEPS)

    def chunk_program(self, mode: str = "beam") -> ChunkProgram:
        """The (cached) running-batch programs of one mode (chunked.py)."""
        return self._cached(self._chunk_programs, ChunkProgram, mode)

    def program(self, mode: str = "beam") -> Program:
        """The (cached) program of one mode, for every batch size and bucket."""
        return self._cached(self._programs, Program, mode)

    def _cached(self, programs: dict, kind, mode: str):
        with self._lock:
            if mode not in programs:
                programs[mode] = kind(
                    self.model,
                    self.settings,
                    mode,
                    self.n_positions,
                    self.eos_id,
                    self.jit,
                )
        return programs[mode]

    def compiled(self) -> list[tuple[int, int, str]]:
        """(bucket, batch size, mode) of every compiled executable, sorted."""
        return sorted(
            (bucket, size, mode)
            for mode, program in self._programs.items()
            for size, bucket in program.compiled
        )

    def is_compiled(self, bucket: int, batch_size: int, mode: str = "beam") -> bool:
        program = self._programs.get(mode)
        return program is not None and (batch_size, bucket) in program.compiled

    def warmup(self, buckets=None, background: bool = False) -> float:
        """Compile the beam programs of `buckets` (default: the warm buckets);
        the seconds it took.

        With `background`, only batch size 1 is compiled before this returns,
        and the larger batch sizes in a thread (`warming`, `wait_warm`): each
        (batch size, bucket) is one XLA compile of ~11 s at 124M on 2 cores,
        and a worker should take its first job within a minute.

        Each program runs once for a single new token, so warm-up pays for
        tracing and compiling, not for whole documents.  Largest programs
        first, freed heap handed back before each: a program's first run
        needs temporary memory for its whole search, so the peak stays
        lowest when that comes on top of the smallest resident set.
        """
        start = time.perf_counter()
        if buckets is None:
            buckets = self.settings.warm_buckets
        buckets = [b for b in buckets if b < self.n_positions]
        plan = warmup_order(buckets, self.batch_sizes_for)
        later = [(size, bucket) for size, bucket in plan if size > 1 and background]
        self._compile([pair for pair in plan if pair not in later])
        elapsed = time.perf_counter() - start
        if later:  # after the rest: on 2 cores, two compiles slow each other
            self._warming = threading.Thread(
                target=self._logged,
                args=(self._compile, later),
                name="warmup",
                daemon=True,
            )
            self._warming.start()
        return elapsed

    def warmup_running(
        self, buckets=None, mode: str = "beam", background: bool = False
    ) -> float:
        """Compile a running batch's programs (chunked.py: start and chunk)
        of `buckets` (default: the warm buckets) for every batch size; the
        seconds it took.

        With `background`, as `warmup`: batch size 1 before this returns,
        the larger sizes in a thread (`warming`, `wait_warm`).
        """
        start = time.perf_counter()
        if buckets is None:
            buckets = self.settings.warm_buckets
        buckets = [b for b in buckets if b < self.n_positions]
        plan = warmup_order(buckets, self._memory_bounded_sizes)
        later = [(size, bucket) for size, bucket in plan if size > 1 and background]
        self._compile_running([pair for pair in plan if pair not in later], mode)
        elapsed = time.perf_counter() - start
        if later:
            self._warming = threading.Thread(
                target=self._logged,
                args=(self._compile_running, later, mode),
                name="warmup",
                daemon=True,
            )
            self._warming.start()
        return elapsed

    def _compile_running(self, plan: list[tuple[int, int]], mode: str) -> None:
        program = self.chunk_program(mode)
        token = (self.eos_id + 1) % int(self.model.config.vocab_size)
        for size, bucket in plan:
            release_free_heap()
            tick = time.perf_counter()
            ids, mask = left_pad([(token,)] * size, bucket, self.eos_id)
            state = program.start(ids, mask, [1] * size, [1] * size, [0] * size)
            state, cache = program.variables(state, program.empty_cache(size, bucket))
            program.chunk(state, cache, 1, size, bucket)
            log.info(
                "compiled running batch %d at bucket %d in %.1f s",
                size,
                bucket,
                time.perf_counter() - tick,
            )
        release_free_heap()

    def warming(self) -> bool:
        """True while a background warm-up is compiling."""
        return self._warming is not None and self._warming.is_alive()

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Wait for the background warm-up; True once it is done."""
        if self._warming is not None:
            self._warming.join(timeout)
        return not self.warming()

    @staticmethod
    def _logged(compile_plan, *args) -> None:
        try:
            compile_plan(*args)
        except Exception:  # the sizes compiled so far still serve
            log.exception("background warm-up failed")

    def _compile(self, plan: list[tuple[int, int]]) -> None:
        token = (self.eos_id + 1) % int(self.model.config.vocab_size)
        for batch_size, bucket in plan:
            release_free_heap()
            tick = time.perf_counter()
            ids, mask = left_pad([(token,)] * batch_size, bucket, self.eos_id)
            self.program()(ids, mask, new_tokens=1).numpy()
            log.info(
                "compiled bucket %d, batch %d in %.1f s",
                bucket,
                batch_size,
                time.perf_counter() - tick,
            )
        release_free_heap()

    def generate_ids(self, requests, on_compile=None) -> list[list[int]]:
        """New token ids per request; requests alike run batched together."""
        requests, prepared = self._prepared(requests)
        groups: dict[tuple, list[int]] = {}
        for index, (request, prompt) in enumerate(zip(requests, prepared, strict=True)):
            groups.setdefault(self._batch_key(prompt, request.mode), []).append(index)
        results: list[list[int] | None] = [None] * len(prepared)
        for (mode, _, _), members in sorted(groups.items()):
            members.sort(key=lambda i: prepared[i].bucket)
            start = 0
            for size in plan_batches(
                len(members), self.batch_sizes_for(prepared[members[-1]].bucket)
            ):
                chunk = members[start : start + size]
                start += len(chunk)
                bucket = prepared[chunk[-1]].bucket
                if on_compile and not self.is_compiled(bucket, size, mode):
                    on_compile(bucket, size, mode)
                outputs = self._run(
                    [prepared[i] for i in chunk],
                    [requests[i].seed or 0 for i in chunk],
                    size,
                    bucket,
                    mode,
                )
                for index, tokens in zip(chunk, outputs, strict=True):
                    results[index] = tokens
        return results

    def _batch_key(self, prompt: PreparedPrompt, mode: str) -> tuple:
        """Prompts with one key share calls, padded to the largest one's bucket.

        Left padding is masked, so a beam prompt's tokens do not depend on it,
        and the largest bucket leaves room for the shared new-token count
        (prepare capped it to fit that prompt): 8 waiting documents of
        buckets 16 and 32 run as 4 + 4, not 4 + 4 + 1.  A sampled prompt keeps
        its own bucket: its random stream is keyed by buffer position, so
        its recorded seed reproduces its text only at that bucket.
        """
        own_bucket = mode == "sample" or prompt.bucket > BATCHED_BUCKET_LIMIT
        return (mode, prompt.new_tokens, prompt.bucket if own_bucket else 0)

    def _run(self, prompts: list[PreparedPrompt], seeds, size, bucket, mode: str):
        """One compiled call of batch `size` at `bucket` (the largest of the
        prompts'), padded with copies of the last prompt."""
        new_tokens = prompts[0].new_tokens
        padding = size - len(prompts)
        rows = list(prompts) + [prompts[-1]] * padding
        input_ids, mask = left_pad([p.ids for p in rows], bucket, self.eos_id)
        start = time.perf_counter()
        output = self.program(mode)(
            input_ids,
            mask,
            new_tokens=new_tokens,
            min_new_tokens=min(self.settings.min_new_tokens, new_tokens),
            seeds=list(seeds) + [seeds[-1]] * padding,
        ).numpy()
        log.debug(
            "bucket %d, %s: %d prompts (batch %d) in %.2f s",
            bucket,
            mode,
            len(prompts),
            size,
            time.perf_counter() - start,
        )
        return [
            strip_after_eos(row[bucket : bucket + new_tokens].tolist(), self.eos_id)
            for row in output[: len(prompts)]
        ]


def warmup_order(buckets, batch_sizes_for) -> list[tuple[int, int]]:
    """(batch size, bucket) pairs, the most memory-hungry program first."""
    return sorted(
        ((size, bucket) for bucket in buckets for size in batch_sizes_for(bucket)),
        reverse=True,
    )


def _store_weights(model, weight_layout: str) -> str:
    """Store the model's weight matrices in `weight_layout`, or with "auto"
    in whichever XLA multiplies faster on this CPU (measured: layout.py)."""
    if weight_layout != "auto":
        layout.store(model, weight_layout)
        return weight_layout
    tick = time.perf_counter()
    winner, best_ms = layout.fastest(model)
    log.info(
        "weight layout %s (%s; measured in %.1f s)",
        winner,
        ", ".join(f"{name} {ms:.1f} ms" for name, ms in best_ms.items()),
        time.perf_counter() - tick,
    )
    return winner


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
