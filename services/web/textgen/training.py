"""Fine-tune a GPT-2 on a team's documents within a wall-clock budget.

`fine_tune` loads a base model directory (as textgen.loading does), trains it
with a hand-written `tf.function` step (GradientTape, tf-keras Adam, linear
learning-rate decay to zero over the planned steps), and saves the result
with its tokenizer in the same layout the loader reads, the weights as
model.safetensors: the same weights give the same bytes (an h5 file did not),
so a model's sha256 names its weights.

The number of steps is planned from the time budget: the first step traces
the function, the second is timed, and the plan (re-made at each validation
from the mean speed of the steps after the first, as the CPU is shared) is
what fits in the time left after the remaining validations and the save,
but never more than `max_epochs` passes over the data and never less than
one step.

A cancelled run (`should_stop()` true, checked before every step) returns at
once with `cancelled=True` and writes nothing to `out_dir`: the model is saved
to a temporary sibling directory and renamed into place only when complete,
so `out_dir` exists only for a finished model.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import evaluation, loading
from .files import sha256_file

log = logging.getLogger("textgen")

MAX_EPOCHS = 3.0
PROGRESS_EVERY = 5  # steps between progress reports
# At the start, at 1/3 and 2/3 of the plan, at the end.  Each one reads all
# the held-out blocks, and a forward pass is about a third of a training
# step (6.2 s at 124M, batch 4 x 128, on 2 shared cores: bench_train_step):
# ~40 s for 20 held-out documents of 500 tokens, time the plan leaves aside.
VALIDATION_POINTS = 4
DEFAULT_BLOCK_SIZE = 128
# Time kept back for writing the weights and hashing them: ~500 MB at 124M
# take a few seconds.
SAVE_RESERVE_S = 10.0


@dataclass
class TrainingResult:
    """What a run did and measured.  `losses` rows are [step, train loss,
    validation loss]: the train loss is the mean since the previous row (None
    at step 0), the validation loss None where none was measured.
    A cancelled run has no val_perplexity and no weights_sha256."""

    steps: int
    planned_steps: int
    seconds: float
    train_documents: int
    val_documents: int
    train_tokens: int
    val_tokens: int
    val_perplexity_base: float
    val_perplexity: float | None
    losses: list[list] = field(default_factory=list)
    weights_sha256: str | None = None
    base_weights_sha256: str = ""
    cancelled: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def fine_tune(
    base_dir,
    train_texts: Sequence[str],
    val_texts: Sequence[str],
    out_dir,
    *,
    max_seconds: float,
    batch_size: int = 4,
    block_size: int | None = None,
    learning_rate: float = 5e-5,
    seed: int = 0,
    max_epochs: float = MAX_EPOCHS,
    on_progress: Callable[[int, int, float | None, float | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Fine-tune the model in `base_dir` on `train_texts`; save it to `out_dir`.

    `max_seconds` bounds the whole call (loading and saving included).
    `on_progress(step, planned_steps, loss, val_loss)` is called after the
    base validation (step 0, loss None), every PROGRESS_EVERY steps and after
    each validation (val_loss None when none was measured at that step);
    planned_steps is the epoch limit until the second step is timed.
    `out_dir` must not exist or be an empty directory (FileExistsError).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    _check_arguments(train_texts, val_texts, out_dir, batch_size, max_seconds)
    tokenizer, model, info = loading.load(str(base_dir))
    block_size = _block_size(model, block_size)
    run = _Run(
        model,
        evaluation.tokenize_blocks(tokenizer, train_texts, block_size),
        evaluation.tokenize_blocks(tokenizer, val_texts, block_size),
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        max_epochs=max_epochs,
        deadline=start + max_seconds,
        on_progress=on_progress or (lambda *args: None),
        should_stop=should_stop or (lambda: False),
    )
    run.train()
    result = run.result(info.weights_sha256)
    if not result.cancelled:
        _save(model, tokenizer, out_dir)
        result.weights_sha256 = sha256_file(loading.weights_file(out_dir))
    result.seconds = time.perf_counter() - start
    log.info(
        "fine-tuned %s: %d/%d steps, val perplexity %.2f -> %s, %.0f s%s",
        info.name,
        result.steps,
        result.planned_steps,
        result.val_perplexity_base,
        f"{result.val_perplexity:.2f}" if result.val_perplexity else "-",
        result.seconds,
        " (cancelled)" if result.cancelled else "",
    )
    return result


def plan_steps(*, done: int, per_step: float, seconds_left: float, cap: int) -> int:
    """Steps in all: those done plus those that fit in `seconds_left`, at most
    `cap`, at least one and never fewer than were done."""
    fit = done + int(max(seconds_left, 0.0) / max(per_step, 1e-9))
    return max(1, done, min(cap, fit))


class _Run:
    """One fine-tuning run: its budget, compiled steps and measurements."""

    def __init__(
        self,
        model,
        train,
        val,
        *,
        batch_size,
        learning_rate,
        seed,
        max_epochs,
        deadline,
        on_progress,
        should_stop,
    ):
        import tensorflow as tf

        tf.random.set_seed(seed)  # dropout masks repeat with the seed
        self.train_blocks, self.val_blocks = train, val
        self.batch_size, self.peak_lr = batch_size, learning_rate
        self.deadline = deadline
        budget = max(deadline - time.perf_counter(), 0.0)
        self.save_reserve = min(SAVE_RESERVE_S, 0.05 * budget)
        self.on_progress, self.should_stop = on_progress, should_stop
        self.rng = np.random.default_rng(seed)
        steps_per_epoch = math.ceil(train.rows / batch_size)
        self.cap = max(1, math.ceil(max_epochs * steps_per_epoch))
        self.planned = self.cap
        self.optimizer = make_optimizer(learning_rate)
        self.train_step = make_train_step(model, self.optimizer)
        self.eval_step = evaluation.make_eval_step(model)
        self.step, self.cancelled = 0, False
        self.recent: list[float] = []  # train losses since the last report
        self.losses: list[list] = []
        self.validations_inside = 0
        self.eval_seconds = 0.0
        self.step_seconds = 0.0  # of the steps after the first (which traces)

    def train(self) -> None:
        """Base validation, then steps until the plan or the time is used; the
        last step is followed by the final validation.  Returns at once when
        should_stop() says so."""
        self.base_val_loss = self._validate()
        self._report(None, self.base_val_loss)
        for rows in self._batches():
            if self.should_stop():
                self.cancelled = True
                return
            self.recent.append(self._one_step(rows))
            last = self.step >= self.planned or self._out_of_time()
            if last and self.step < 2:
                self.planned = self.step  # out of time before any plan was made
            if last or self._time_to_validate():
                self._report(self._mean_recent(), self._validate())
            elif self.step % PROGRESS_EVERY == 0:
                self._report(self._mean_recent(), None)
            if last:
                return

    def _one_step(self, rows: np.ndarray) -> float:
        # Linear decay to zero over the plan (the Hugging Face default).
        self.optimizer.learning_rate = self.peak_lr * (1 - self.step / self.planned)
        ids, mask = evaluation.padded_batch(self.train_blocks, rows, self.batch_size)
        started = time.perf_counter()
        loss = float(self.train_step(ids, mask))  # float(): the step has ended
        self.step += 1
        if self.step > 1:
            self.step_seconds += time.perf_counter() - started
        if self.step == 2:
            self._plan()
        return loss

    def _plan(self) -> None:
        """(Re-)plan from the mean time of the steps after the first."""
        if self.step < 2:
            return
        per_step = self.step_seconds / (self.step - 1)
        validations_left = VALIDATION_POINTS - 2 - self.validations_inside + 1
        reserve = validations_left * self.eval_seconds + self.save_reserve
        self.planned = plan_steps(
            done=self.step,
            per_step=per_step,
            seconds_left=self.deadline - time.perf_counter() - reserve,
            cap=self.cap,
        )

    def _time_to_validate(self) -> bool:
        """At equal fractions of the plan in between the start and the end."""
        inside = VALIDATION_POINTS - 2
        if self.validations_inside >= inside or self.step >= self.planned:
            return False
        due = self.step * (inside + 1) >= (self.validations_inside + 1) * self.planned
        if due:
            self.validations_inside += 1
        return due

    def _out_of_time(self) -> bool:
        reserve = self.eval_seconds + self.save_reserve
        return time.perf_counter() >= self.deadline - reserve

    def _validate(self) -> float:
        started = time.perf_counter()
        loss = evaluation.mean_loss(self.eval_step, self.val_blocks, self.batch_size)
        self.eval_seconds = time.perf_counter() - started
        self._plan()
        return loss

    def _mean_recent(self) -> float | None:
        mean = float(np.mean(self.recent)) if self.recent else None
        self.recent = []
        return mean

    def _report(self, loss: float | None, val_loss: float | None) -> None:
        self.losses.append([self.step, loss, val_loss])
        self.on_progress(self.step, self.planned, loss, val_loss)

    def _batches(self):
        """Row indices per step, a fresh shuffle each epoch, until the cap."""
        rows = self.train_blocks.rows
        produced = 0
        while produced < self.cap:
            order = self.rng.permutation(rows)
            for begin in range(0, rows, self.batch_size):
                if produced >= self.cap:
                    return
                produced += 1
                yield np.sort(order[begin : begin + self.batch_size])

    def result(self, base_sha256: str) -> TrainingResult:
        val_losses = [row[2] for row in self.losses if row[2] is not None]
        return TrainingResult(
            steps=self.step,
            planned_steps=self.planned,
            seconds=0.0,
            train_documents=self.train_blocks.documents,
            val_documents=self.val_blocks.documents,
            train_tokens=self.train_blocks.tokens,
            val_tokens=self.val_blocks.tokens,
            val_perplexity_base=math.exp(self.base_val_loss),
            val_perplexity=None if self.cancelled else math.exp(val_losses[-1]),
            losses=self.losses,
            base_weights_sha256=base_sha256,
            cancelled=self.cancelled,
        )


def make_optimizer(learning_rate: float):
    """tf-keras Adam (the Keras that transformers' TF models are built on)."""
    import tf_keras

    # Clipping keeps a large first update from wrecking a pretrained model.
    return tf_keras.optimizers.Adam(learning_rate, global_clipnorm=1.0)


def make_train_step(model, optimizer):
    """The `tf.function` step: mean token loss, gradients, one Adam update."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def train_step(ids, mask):
        with tf.GradientTape() as tape:
            total, count = evaluation.token_loss(model, ids, mask, training=True)
            loss = total / tf.maximum(count, 1.0)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def _check_arguments(train_texts, val_texts, out_dir, batch_size, max_seconds):
    if not train_texts or not val_texts:
        raise ValueError("fine-tuning needs training and validation documents")
    if batch_size < 1 or max_seconds <= 0:
        raise ValueError("batch_size and max_seconds must be positive")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir} exists and is not an empty directory")


def _block_size(model, block_size: int | None) -> int:
    n_positions = int(model.config.n_positions)
    if block_size is None:
        return min(DEFAULT_BLOCK_SIZE, n_positions)
    if not 2 <= block_size <= n_positions:
        raise ValueError(f"block_size must be between 2 and {n_positions}")
    return block_size


def _save(model, tokenizer, out_dir: Path) -> None:
    """save_pretrained into a sibling temporary directory, then rename it to
    `out_dir`: a reader never meets a half-written model."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        os.replace(partial, out_dir)  # replaces an empty out_dir too
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
