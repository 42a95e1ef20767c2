"""One generation program per mode, compiled per batch size and bucket.

A tf.function retraces whenever a Python argument changes, so a program
fixes its mode and takes everything else as tensors: the left-padded ids and
their mask, the number of new tokens and the minimum (run-time, see
search.py), and in sample mode one seed per row.

The batch size and the prompt length (the bucket) are left open in the
trace: XLA compiles one executable per (batch size, bucket) from the same
traced graph.  A traced graph of GPT-2 124M, with the Python stack trace TF
keeps for each of its ops, holds ~90 MB that every compiled bucket used to
pay again (measured with heaptrack and /proc/self/smaps), and tracing it
takes seconds: one trace per mode pays both once.

Tracing runs with autograph off: the loops are already tf.while_loop, and
autograph's conversion of transformers' source cost ~10 s per program.
"""

from __future__ import annotations

import logging

import tensorflow as tf
from transformers import GenerationConfig
from transformers.generation.tf_logits_process import (
    TFLogitsProcessor,
    TFLogitsProcessorList,
    TFTemperatureLogitsWarper,
)
from transformers.tf_utils import stable_softmax

from .ngram import XLANoRepeatNGramLogitsProcessor
from .search import beam_search, sample_search
from .settings import GenerationSettings


def generation_config(
    settings: GenerationSettings, eos_id: int, new_tokens: int, prompt_len: int
) -> GenerationConfig:
    """The GenerationConfig for eager beam-search `generate` on one prompt.

    min_length counts the prompt, so EOS is suppressed for min_new_tokens.
    """
    return GenerationConfig(
        num_beams=settings.num_beams,
        early_stopping=settings.early_stopping,
        max_new_tokens=new_tokens,
        min_length=prompt_len + min(settings.min_new_tokens, new_tokens),
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        do_sample=False,
        length_penalty=1.0,
        num_return_sequences=1,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        use_cache=True,
    )


class _SkipRetracingWarning(logging.Filter):
    """Each program is traced exactly once, but TF counts traces across the
    programs (same Python code) and warns about "retracing" at every warm-up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_SkipRetracingWarning())


class MinLengthProcessor(TFLogitsProcessor):
    """No EOS before `min_len` (a tensor: the prompt bucket plus the minimum).

    `min_len` and `cur_len` are scalars or one per row ([rows]).
    """

    def __init__(self, min_len: tf.Tensor, eos_id: int):
        self.min_len = min_len
        self.eos_id = eos_id

    def __call__(self, input_ids, scores, cur_len):
        is_eos = tf.range(tf.shape(scores)[-1]) == self.eos_id
        short = tf.reshape(cur_len < self.min_len, (-1, 1))  # [rows or 1, 1]
        ban = is_eos[None, :] & short
        return tf.where(ban, tf.cast(float("-inf"), scores.dtype), scores)


class TopPLogitsWarper(TFLogitsProcessor):
    """transformers' TFTopPLogitsWarper (min_tokens_to_keep=1) for rows whose
    number is not known when tracing: theirs builds its masks from the static
    shape.  The same operations, so a recorded seed gives the same text."""

    def __init__(self, top_p: float):
        self.top_p = top_p

    def __call__(self, input_ids, scores, cur_len):
        vocab_size = scores.shape[-1]
        topk_scores, topk_indices = tf.math.top_k(scores, vocab_size)
        cumulative = tf.math.cumsum(stable_softmax(topk_scores, axis=-1), axis=-1)
        # Keep the tokens below top_p and the first one that crosses it.
        keep = tf.concat(
            [tf.ones_like(cumulative[:, :1], tf.bool), cumulative[:, :-1] < self.top_p],
            axis=-1,
        )
        kept = tf.where(keep, topk_scores, float("-inf"))
        # Undo the sort: scatter each score back to its token.
        rows = tf.broadcast_to(tf.range(tf.shape(scores)[0])[:, None], tf.shape(scores))
        return tf.scatter_nd(
            tf.stack([rows, topk_indices], axis=-1), kept, tf.shape(scores)
        )


def logits_processors(settings: GenerationSettings, eos_id: int, min_len, starts):
    """No EOS before `min_len`, no repeated n-gram after each row's start
    (`starts` [rows]; `min_len` one for all rows or [rows])."""
    processors = TFLogitsProcessorList([MinLengthProcessor(min_len, eos_id)])
    if settings.no_repeat_ngram_size:
        processors.append(
            XLANoRepeatNGramLogitsProcessor(settings.no_repeat_ngram_size, starts)
        )
    return processors


def sample_warpers(settings: GenerationSettings) -> TFLogitsProcessorList:
    """Sample mode's temperature and nucleus (top-p) warpers."""
    return TFLogitsProcessorList(
        [
            TFTemperatureLogitsWarper(settings.temperature),
            TopPLogitsWarper(settings.top_p),
        ]
    )


class Program:
    """Generation for inputs of shape [batch size, bucket], compiled with XLA."""

    def __init__(
        self,
        model,
        settings: GenerationSettings,
        mode: str,
        n_positions: int,
        eos_id: int,
        jit: bool = True,
    ):
        self.model = model
        self.settings = settings
        self.mode = mode
        self.n_positions = n_positions
        self.eos_id = eos_id
        self.compiled: set[tuple[int, int]] = set()  # (batch size, bucket)
        # jit=False runs the same code eagerly (debugging, reference checks).
        self._fn = self._compiled() if jit else self._generate

    def _compiled(self):
        """The XLA-compiled function; traced once (fixed input signature)."""
        ids = tf.TensorSpec((None, None), tf.int32)  # [batch size, bucket]
        scalar = tf.TensorSpec((), tf.int32)
        seeds = tf.TensorSpec((None,), tf.int32)

        def run(input_ids, attention_mask, new_tokens, min_new_tokens, seeds):
            # A function of its own per program: TF counts traces per Python
            # function, and would warn about "retracing" a shared method.
            return self._generate(
                input_ids, attention_mask, new_tokens, min_new_tokens, seeds
            )

        return tf.function(
            run,
            jit_compile=True,
            autograph=False,
            input_signature=[ids, ids, scalar, scalar, seeds],
        )

    def _processors(self, attention_mask, min_new_tokens, rows_per_prompt):
        """Built inside the trace, so the row starts are graph tensors."""
        bucket = tf.shape(attention_mask)[1]
        starts = bucket - tf.reduce_sum(attention_mask, axis=1)
        # Beam search flattens [batch, beams] rows batch-major.
        starts = tf.repeat(starts, rows_per_prompt)
        return logits_processors(
            self.settings, self.eos_id, bucket + min_new_tokens, starts
        )

    def _generate(self, input_ids, attention_mask, new_tokens, min_new_tokens, seeds):
        settings = self.settings
        bucket = tf.shape(input_ids)[1]
        common = dict(
            # The output buffer: the bucket plus the most new tokens, or the
            # model's whole context.  A compile-time constant for XLA.
            capacity=tf.minimum(bucket + settings.most_new_tokens, self.n_positions),
            stop_len=bucket + new_tokens,
            eos_id=self.eos_id,
        )
        if self.mode == "sample":
            warpers = sample_warpers(settings)
            return sample_search(
                self.model,
                input_ids,
                attention_mask,
                processors=self._processors(attention_mask, min_new_tokens, 1),
                seeds=seeds,
                warpers=warpers,
                **common,
            )
        if settings.num_beams == 1:
            return sample_search(
                self.model,
                input_ids,
                attention_mask,
                processors=self._processors(attention_mask, min_new_tokens, 1),
                **common,
            )
        return beam_search(
            self.model,
            input_ids,
            attention_mask,
            processors=self._processors(
                attention_mask, min_new_tokens, settings.num_beams
            ),
            num_beams=settings.num_beams,
            early_stopping=settings.early_stopping,
            **common,
        )

    def __call__(
        self, input_ids, attention_mask, new_tokens, min_new_tokens=0, seeds=None
    ) -> tf.Tensor:
        """[batch, capacity] token ids (prompt included, EOS-padded)."""
        seeds = [0] * len(input_ids) if seeds is None else list(seeds)
        output = self._fn(
            tf.constant(input_ids, tf.int32),
            tf.constant(attention_mask, tf.int32),
            tf.constant(new_tokens, tf.int32),
            tf.constant(min_new_tokens, tf.int32),
            tf.constant(seeds, tf.int32),
        )
        self.compiled.add((len(input_ids), len(input_ids[0])))
        return output
