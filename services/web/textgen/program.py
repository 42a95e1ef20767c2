"""One compiled beam search: fixed bucket, batch size and processor list.

A tf.function retraces whenever a Python argument changes (a new processor
object, another max_new_tokens), so each program fixes all of them and takes
only two tensors of a fixed shape: left-padded input ids and their mask.

Start-up cost: tracing `generate` with autograph spends most of its time
converting transformers' Python source (~10 s per program even for a tiny
model).  The TF search loops are already written with tf.while_loop, so the
program traces with autograph off; the only obstacle is a Python `if` on a
tensor in `generate()` (a right-padding warning), so the program does what
`generate` does for a decoder-only model and calls beam_search (or
greedy_search for one beam) itself.  `eager.py` still uses `generate`, and
the tests check both give the same tokens.
"""

from __future__ import annotations

import logging

import tensorflow as tf
from transformers import GenerationConfig
from transformers.generation.tf_logits_process import (
    TFLogitsProcessor,
    TFLogitsProcessorList,
    TFMinLengthLogitsProcessor,
)

from .ngram import XLANoRepeatNGramLogitsProcessor
from .settings import GenerationSettings


def generation_config(
    settings: GenerationSettings, eos_id: int, new_tokens: int, prompt_len: int
) -> GenerationConfig:
    """The GenerationConfig for eager `generate` on a prompt of `prompt_len` tokens.

    min_length counts the prompt, so EOS is suppressed for min_new_tokens.
    """
    return GenerationConfig(
        num_beams=settings.num_beams,
        early_stopping=settings.early_stopping,
        max_new_tokens=new_tokens,
        min_length=prompt_len + settings.min_new_tokens,
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


class ForceEOSLogitsProcessor(TFLogitsProcessor):
    """When `stop` (a scalar bool tensor) is true, only EOS can be chosen.

    Warm-up passes stop=True: every beam ends at the first step, so compiling
    a program costs one model step instead of a whole document.  Real calls
    pass stop=False, and the scores go through unchanged.
    """

    def __init__(self, eos_id: int, stop: tf.Tensor):
        self.eos_id = eos_id
        self.stop = stop

    def __call__(self, input_ids, scores, cur_len):
        only_eos = tf.where(
            tf.range(tf.shape(scores)[-1]) == self.eos_id,
            tf.zeros_like(scores),
            tf.fill(tf.shape(scores), tf.cast(float("-inf"), scores.dtype)),
        )
        return tf.where(self.stop, only_eos, scores)


class BeamProgram:
    """Generation for inputs of shape [batch_size, bucket], compiled with XLA."""

    def __init__(
        self,
        model,
        settings: GenerationSettings,
        bucket: int,
        batch_size: int,
        eos_id: int,
        jit: bool = True,
    ):
        self.model = model
        self.settings = settings
        self.bucket = bucket
        self.batch_size = batch_size
        self.eos_id = eos_id
        self.new_tokens = settings.new_tokens(bucket)
        # jit=False runs the same code eagerly (debugging, reference checks).
        self._fn = self._compiled() if jit else self._generate

    def _compiled(self):
        """The XLA-compiled function; traced once (fixed input signature)."""
        spec = tf.TensorSpec((self.batch_size, self.bucket), tf.int32)
        stop = tf.TensorSpec((), tf.bool)

        def run(input_ids, attention_mask, stop):
            # A function of its own per program: TF counts traces per Python
            # function, and would warn about "retracing" a shared method.
            return self._generate(input_ids, attention_mask, stop)

        return tf.function(
            run, jit_compile=True, autograph=False, input_signature=[spec, spec, stop]
        )

    def _processors(self, attention_mask, stop) -> TFLogitsProcessorList:
        """Built inside the trace, so the row starts are graph tensors."""
        min_length = self.bucket + self.settings.min_new_tokens
        processors = TFLogitsProcessorList(
            [TFMinLengthLogitsProcessor(min_length, self.eos_id)]
        )
        size = self.settings.no_repeat_ngram_size
        if size:
            starts = self.bucket - tf.reduce_sum(attention_mask, axis=1)
            # Beam search flattens [batch, beams] rows batch-major.
            starts = tf.repeat(starts, self.settings.num_beams)
            processors.append(XLANoRepeatNGramLogitsProcessor(size, starts))
        processors.append(ForceEOSLogitsProcessor(self.eos_id, stop))
        return processors

    def _generate(self, input_ids, attention_mask, stop) -> tf.Tensor:
        """What generate() does for a decoder-only model, minus its Python checks."""
        beams = self.settings.num_beams
        common = dict(
            max_length=self.bucket + self.new_tokens,
            pad_token_id=self.eos_id,
            eos_token_id=self.eos_id,
            logits_processor=self._processors(attention_mask, stop),
            output_attentions=False,
            output_hidden_states=False,
            output_scores=False,
            return_dict_in_generate=False,
            use_cache=True,
        )
        if beams == 1:
            return self.model.greedy_search(
                input_ids, attention_mask=attention_mask, **common
            )
        expand = (self.batch_size, beams, self.bucket)
        return self.model.beam_search(
            tf.broadcast_to(input_ids[:, None], expand),
            attention_mask=tf.broadcast_to(attention_mask[:, None], expand),
            length_penalty=1.0,
            early_stopping=self.settings.early_stopping,
            num_return_sequences=1,
            **common,
        )

    def __call__(self, input_ids, attention_mask, stop: bool = False) -> tf.Tensor:
        """[batch, bucket + new_tokens] token ids (prompt included, EOS-padded).

        stop=True (warm-up) ends every row at the first step.
        """
        return self._fn(
            tf.constant(input_ids, tf.int32),
            tf.constant(attention_mask, tf.int32),
            tf.constant(stop),
        )
