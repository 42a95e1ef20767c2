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
    import tensorflow as tf
    import tf_keras

    start = time.perf_counter()
    deadline = start + max_minutes * 60.0
    train_ids, train_mask = train_arrays
    val_ids, val_mask = val_arrays
    rng = np.random.default_rng(cfg.seed)
    bs = cfg.batch_size

    total_steps = tf.Variable(max_steps or 10**9, dtype=tf.int64, trainable=False)

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

    def masked_loss(ids, mask, training):
        logits = model(input_ids=ids, training=training).logits[:, :-1, :]
        labels = ids[:, 1:]
        weights = mask[:, 1:]
        losses = tf.keras.losses.sparse_categorical_crossentropy(
            labels, tf.cast(logits, tf.float32), from_logits=True
        )
        return tf.reduce_sum(losses * weights), tf.reduce_sum(weights)

    @tf.function(jit_compile=cfg.jit_compile, reduce_retracing=True)
    def train_step(ids, mask):
        with tf.GradientTape() as tape:
            total, count = masked_loss(ids, mask, True)
            loss = total / tf.maximum(count, 1.0)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function(jit_compile=cfg.jit_compile, reduce_retracing=True)
    def eval_step(ids, mask):
        return masked_loss(ids, mask, False)

    def evaluate() -> float:
        total, count = 0.0, 0.0
        n = min(len(val_ids), cfg.eval_batches * bs)
        for lo in range(0, n, bs):
            # Fixed batch shape: pad the last batch with fully-masked rows so the
            # compiled function is never retraced.
            ids, mask = val_ids[lo : lo + bs], val_mask[lo : lo + bs]
            if len(ids) < bs:
                pad = bs - len(ids)
                ids = np.concatenate([ids, np.zeros((pad, ids.shape[1]), ids.dtype)])
                mask = np.concatenate(
                    [mask, np.zeros((pad, mask.shape[1]), mask.dtype)]
                )
            t, c = eval_step(ids, mask)
            total += float(t)
            count += float(c)
        return total / max(count, 1.0)

    result = TrainResult()
    t0 = time.perf_counter()
    result.initial_val_loss = evaluate()  # also compiles eval_step
    eval_seconds = time.perf_counter() - t0
    log.info(
        "initial val loss %.4f (eval took %.1fs)", result.initial_val_loss, eval_seconds
    )

    order = rng.permutation(len(train_ids))
    cursor, epoch = 0, 0
    recent: list[float] = []
    step = 0
    timing_start = None
    last_eval = last_log = time.perf_counter()
    last_eval_step = 0
    while True:
        if cursor + bs > len(order):  # new epoch, fresh shuffle
            order, cursor, epoch = rng.permutation(len(train_ids)), 0, epoch + 1
        idx = np.sort(order[cursor : cursor + bs])
        cursor += bs
        loss = float(train_step(train_ids[idx], train_mask[idx]))
        step += 1
        recent = (recent + [loss])[-100:]
        result.tokens_seen += int(train_mask[idx].sum())
        now = time.perf_counter()
        if step == 2:
            timing_start = now  # step 1 includes tracing/compilation
        if step == 2 + cfg.timing_steps and not max_steps:
            per_step = (now - timing_start) / cfg.timing_steps
            n_evals = max_minutes * 60.0 / cfg.eval_every_seconds + 1
            remaining = deadline - now - n_evals * eval_seconds - 10.0
            planned = step + max(int(remaining / per_step), 1)
            total_steps.assign(planned)
            log.info("%.3fs/step -> planning %d steps", per_step, planned)
        if step % 25 == 0:
            lr = lr_at(
                step, cfg.learning_rate, cfg.warmup_steps, total_steps, cfg.min_lr_ratio
            )
            log.info(
                "step %d epoch %d loss %.4f lr %.2e (%.3fs/step)",
                step,
                epoch,
                float(np.mean(recent)),
                float(lr),
                (now - last_log) / 25,
            )
            last_log = now
        done = step >= int(total_steps.numpy()) or now >= deadline
        if now - last_eval >= cfg.eval_every_seconds and not done:
            if not max_steps:
                # Re-plan from the recent speed: the CPU is shared, so the speed
                # measured at the start may not hold; small changes to the
                # schedule's length only nudge the learning rate.
                per_step = (now - last_eval) / max(step - last_eval_step, 1)
                n_evals = (deadline - now) / cfg.eval_every_seconds + 1
                remaining = deadline - now - n_evals * eval_seconds - 10.0
                total_steps.assign(step + max(int(remaining / per_step), 1))
                log.info(
                    "%.3fs/step -> re-planned %d steps",
                    per_step,
                    int(total_steps.numpy()),
                )
            val = evaluate()
            result.history.append(
                {
                    "step": step,
                    "train_loss": float(np.mean(recent)),
                    "val_loss": val,
                    "minutes": (now - start) / 60,
                }
            )
            log.info("step %d val loss %.4f (ppl %.1f)", step, val, math.exp(val))
            last_eval, last_eval_step = time.perf_counter(), step
        if done:
            break

    result.steps = step
    result.planned_steps = int(total_steps.numpy())
    result.train_loss = float(np.mean(recent))
    result.epochs = step * bs / len(train_ids)
    result.val_loss = evaluate()
    result.wall_seconds = time.perf_counter() - start
    result.seconds_per_step = result.wall_seconds / max(step, 1)
    result.history.append(
        {
            "step": step,
            "train_loss": result.train_loss,
            "val_loss": result.val_loss,
            "minutes": result.wall_seconds / 60,
        }
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
