"""Stage 4: train a small TF GPT-2 within a wall-clock budget.

A hand-written ``tf.function`` train step is used instead of ``Keras.fit``
because it has less per-step overhead on a 2-core CPU. The learning-rate
schedule (linear warmup, cosine decay) spans a step budget estimated from the
speed of the first steps, so the decay ends roughly when the time runs out.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from pipeline.config import ModelConfig, TrainConfig

log = logging.getLogger("pipeline")


@dataclass
class TrainResult:
    """What the training loop reports for metadata.json."""

    steps: int = 0
    planned_steps: int = 0
    epochs: float = 0.0
    train_loss: float = float("nan")  # mean over the last ~100 steps
    val_loss: float = float("nan")
    initial_val_loss: float = float("nan")
    wall_seconds: float = 0.0
    seconds_per_step: float = 0.0
    tokens_seen: int = 0
    history: list[dict] = field(default_factory=list)


def lr_at(step, peak: float, warmup: int, total, min_ratio: float):
    """Warmup + cosine decay; works on Python numbers and TF tensors alike."""
    import tensorflow as tf

    step = tf.cast(step, tf.float32)
    total = tf.maximum(tf.cast(total, tf.float32), float(warmup) + 1.0)
    warm = peak * (step + 1.0) / float(max(warmup, 1))
    progress = tf.clip_by_value((step - warmup) / (total - warmup), 0.0, 1.0)
    cosine = min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + tf.cos(math.pi * progress))
    return tf.where(step < warmup, warm, peak * cosine)


def build_model(model_cfg: ModelConfig, vocab_size: int, eos_id: int):
    """A randomly initialised TFGPT2LMHeadModel of the configured shape."""
    from transformers import GPT2Config, TFGPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=model_cfg.n_positions,
        n_embd=model_cfg.n_embd,
        n_layer=model_cfg.n_layer,
        n_head=model_cfg.n_head,
        resid_pdrop=model_cfg.dropout,
        embd_pdrop=model_cfg.dropout,
        attn_pdrop=model_cfg.dropout,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    model = TFGPT2LMHeadModel(config)
    model(model.dummy_inputs)  # build the weights
    return model


def train_model(
    model,
    train_arrays: tuple[np.ndarray, np.ndarray],
    val_arrays: tuple[np.ndarray, np.ndarray],
    cfg: TrainConfig,
    max_minutes: float,
    max_steps: int | None = None,
) -> TrainResult:
    """Train ``model`` in place until the step budget or the time budget is used."""
    run = _TrainingRun(model, train_arrays, val_arrays, cfg, max_minutes, max_steps)
    run.evaluate_initial_model()
    run.train_until_budget_used()
    return run.finish()


class _TrainingRun:
    """One call of :func:`train_model`: its budgets, compiled steps and progress."""

    def __init__(self, model, train_arrays, val_arrays, cfg, max_minutes, max_steps):
        import tensorflow as tf

        self.start = time.perf_counter()
        self.deadline = self.start + max_minutes * 60.0
        self.cfg = cfg
        self.max_minutes = max_minutes
        self.max_steps = max_steps
        self.train_ids, self.train_mask = train_arrays
        self.val_arrays = val_arrays
        self.rng = np.random.default_rng(cfg.seed)
        # The learning-rate schedule reads this; planning re-assigns it.
        self.total_steps = tf.Variable(
            max_steps or 10**9, dtype=tf.int64, trainable=False
        )
        optimizer = _make_optimizer(cfg, self.total_steps)
        self.train_step, self.eval_step = _compile_steps(
            model, optimizer, cfg.jit_compile
        )
        self.result = TrainResult()
        self.eval_seconds = 0.0
        self.step = 0
        self.recent: list[float] = []  # losses of the last 100 steps
        self.timing_start: float | None = None
        self.last_eval = self.last_log = 0.0
        self.last_eval_step = 0

    def evaluate(self) -> float:
        """Mean validation loss per token."""
        return _validation_loss(
            self.eval_step, self.val_arrays, self.cfg.batch_size, self.cfg.eval_batches
        )

    def evaluate_initial_model(self) -> None:
        """Record the initial validation loss and how long an evaluation takes."""
        t0 = time.perf_counter()
        self.result.initial_val_loss = self.evaluate()  # also compiles eval_step
        self.eval_seconds = time.perf_counter() - t0
        log.info(
            "initial val loss %.4f (eval took %.1fs)",
            self.result.initial_val_loss,
            self.eval_seconds,
        )
        self.last_eval = self.last_log = time.perf_counter()

    def train_until_budget_used(self) -> None:
        """Train batch by batch, re-planning and evaluating every so often."""
        batches = _shuffled_batches(self.rng, len(self.train_ids), self.cfg.batch_size)
        for epoch, idx in batches:
            now = self._train_on(idx)
            self._plan_from_first_steps(now)
            if self.step % 25 == 0:
                self._log_progress(epoch, now)
            done = self._budget_used(now)
            if now - self.last_eval >= self.cfg.eval_every_seconds and not done:
                if not self.max_steps:
                    self._replan_from_recent_speed(now)
                self._evaluate_and_record(now)
            if done:
                break

    def _train_on(self, idx: np.ndarray) -> float:
        """One optimisation step on rows ``idx``; returns the time it ended."""
        loss = float(self.train_step(self.train_ids[idx], self.train_mask[idx]))
        self.step += 1
        self.recent = (self.recent + [loss])[-100:]
        self.result.tokens_seen += int(self.train_mask[idx].sum())
        return time.perf_counter()

    def _plan_from_first_steps(self, now: float) -> None:
        """Fix the step budget from the speed of the first steps (time budget only)."""
        if self.step == 2:
            self.timing_start = now  # step 1 includes tracing/compilation
        if self.step == 2 + self.cfg.timing_steps and not self.max_steps:
            per_step = (now - self.timing_start) / self.cfg.timing_steps
            n_evals = self.max_minutes * 60.0 / self.cfg.eval_every_seconds + 1
            planned = self._steps_that_fit(now, per_step, n_evals)
            self.total_steps.assign(planned)
            log.info("%.3fs/step -> planning %d steps", per_step, planned)

    def _replan_from_recent_speed(self, now: float) -> None:
        # Re-plan from the recent speed: the CPU is shared, so the speed
        # measured at the start may not hold; small changes to the
        # schedule's length only nudge the learning rate.
        per_step = (now - self.last_eval) / max(self.step - self.last_eval_step, 1)
        n_evals = (self.deadline - now) / self.cfg.eval_every_seconds + 1
        self.total_steps.assign(self._steps_that_fit(now, per_step, n_evals))
        log.info(
            "%.3fs/step -> re-planned %d steps",
            per_step,
            int(self.total_steps.numpy()),
        )

    def _budget_used(self, now: float) -> bool:
        return self.step >= int(self.total_steps.numpy()) or now >= self.deadline

    def _steps_that_fit(self, now: float, per_step: float, n_evals: float) -> int:
        """Total steps that end by the deadline, leaving time for evaluations."""
        remaining = self.deadline - now - n_evals * self.eval_seconds - 10.0
        return self.step + max(int(remaining / per_step), 1)

    def _log_progress(self, epoch: int, now: float) -> None:
        cfg = self.cfg
        lr = lr_at(
            self.step,
            cfg.learning_rate,
            cfg.warmup_steps,
            self.total_steps,
            cfg.min_lr_ratio,
        )
        log.info(
            "step %d epoch %d loss %.4f lr %.2e (%.3fs/step)",
            self.step,
            epoch,
            float(np.mean(self.recent)),
            float(lr),
            (now - self.last_log) / 25,
        )
        self.last_log = now

    def _evaluate_and_record(self, now: float) -> None:
        val = self.evaluate()
        self.result.history.append(
            _history_entry(
                self.step, float(np.mean(self.recent)), val, (now - self.start) / 60
            )
        )
        log.info("step %d val loss %.4f (ppl %.1f)", self.step, val, math.exp(val))
        self.last_eval, self.last_eval_step = time.perf_counter(), self.step

    def finish(self) -> TrainResult:
        """Final evaluation; fill in and log the result."""
        result, step = self.result, self.step
        result.steps = step
        result.planned_steps = int(self.total_steps.numpy())
        result.train_loss = float(np.mean(self.recent))
        result.epochs = step * self.cfg.batch_size / len(self.train_ids)
        result.val_loss = self.evaluate()
        result.wall_seconds = time.perf_counter() - self.start
        result.seconds_per_step = result.wall_seconds / max(step, 1)
        result.history.append(
            _history_entry(
                step, result.train_loss, result.val_loss, result.wall_seconds / 60
            )
        )
        log.info(
            "done: %d steps, train %.4f, val %.4f (ppl %.1f), %.1f min",
            step,
            result.train_loss,
            result.val_loss,
            math.exp(result.val_loss),
            result.wall_seconds / 60,
        )
        return result


def _make_optimizer(cfg: TrainConfig, total_steps):
    """AdamW on the warmup + cosine schedule, whose length is ``total_steps``."""
    import tf_keras

    class Schedule(tf_keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return lr_at(
                step, cfg.learning_rate, cfg.warmup_steps, total_steps, cfg.min_lr_ratio
            )

    optimizer = tf_keras.optimizers.AdamW(
        learning_rate=Schedule(),
        weight_decay=cfg.weight_decay,
        beta_1=0.9,
        beta_2=0.95,
        epsilon=1e-8,
        global_clipnorm=cfg.grad_clip,
    )
    # No decay on biases, LayerNorm and position embeddings (standard GPT-2 practice).
    optimizer.exclude_from_weight_decay(
        var_names=["bias", "ln_", "wpe", "beta", "gamma"]
    )
    return optimizer


def _masked_loss(model, ids, mask, training):
    """Summed next-token cross-entropy over unmasked targets, and their count."""
    import tensorflow as tf

    logits = model(input_ids=ids, training=training).logits[:, :-1, :]
    labels = ids[:, 1:]
    weights = mask[:, 1:]
    losses = tf.keras.losses.sparse_categorical_crossentropy(
        labels, tf.cast(logits, tf.float32), from_logits=True
    )
    return tf.reduce_sum(losses * weights), tf.reduce_sum(weights)


def _compile_steps(model, optimizer, jit_compile: bool):
    """The ``tf.function`` train step (returns the mean loss) and eval step."""
    import tensorflow as tf

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def train_step(ids, mask):
        with tf.GradientTape() as tape:
            total, count = _masked_loss(model, ids, mask, True)
            loss = total / tf.maximum(count, 1.0)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def eval_step(ids, mask):
        return _masked_loss(model, ids, mask, False)

    return train_step, eval_step


def _validation_loss(
    eval_step, val_arrays: tuple[np.ndarray, np.ndarray], bs: int, eval_batches: int
) -> float:
    """Mean loss per token over the first ``eval_batches`` validation batches."""
    val_ids, val_mask = val_arrays
    total, count = 0.0, 0.0
    n = min(len(val_ids), eval_batches * bs)
    for lo in range(0, n, bs):
        ids, mask = _pad_to_batch(val_ids[lo : lo + bs], val_mask[lo : lo + bs], bs)
        t, c = eval_step(ids, mask)
        total += float(t)
        count += float(c)
    return total / max(count, 1.0)


def _pad_to_batch(ids: np.ndarray, mask: np.ndarray, bs: int):
    """Fill a short batch up to ``bs`` rows with fully-masked rows of zeros."""
    # Fixed batch shape: pad the last batch with fully-masked rows so the
    # compiled function is never retraced.
    if len(ids) < bs:
        pad = bs - len(ids)
        ids = np.concatenate([ids, np.zeros((pad, ids.shape[1]), ids.dtype)])
        mask = np.concatenate([mask, np.zeros((pad, mask.shape[1]), mask.dtype)])
    return ids, mask


def _shuffled_batches(rng: np.random.Generator, n_rows: int, bs: int):
    """Endless ``(epoch, sorted row indices)`` batches, reshuffled every epoch."""
    order = rng.permutation(n_rows)
    cursor, epoch = 0, 0
    while True:
        if cursor + bs > len(order):  # new epoch, fresh shuffle
            order, cursor, epoch = rng.permutation(n_rows), 0, epoch + 1
        yield epoch, np.sort(order[cursor : cursor + bs])
        cursor += bs


def _history_entry(step: int, train_loss: float, val_loss: float, minutes: float):
    return {
        "step": step,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "minutes": minutes,
    }
