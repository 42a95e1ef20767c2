"""One compiled beam search: fixed bucket, batch size and processor list.

A tf.function retraces whenever a Python argument changes (a new processor
object, another max_new_tokens), so each program fixes all of them and takes
only two tensors of a fixed shape: left-padded input ids and their mask.
"""

from __future__ import annotations

import tensorflow as tf
from transformers import GenerationConfig
from transformers.generation.tf_logits_process import TFLogitsProcessorList

from .ngram import XLANoRepeatNGramLogitsProcessor
from .settings import GenerationSettings


def generation_config(
    settings: GenerationSettings, eos_id: int, new_tokens: int, prompt_len: int
) -> GenerationConfig:
    """The GenerationConfig for a prompt of `prompt_len` (padded) tokens.

    min_length counts the prompt, so EOS is suppressed for min_new_tokens.
    The no-repeat processor is passed separately (ours runs under XLA).
    """
    return GenerationConfig(
        num_beams=settings.num_beams,
        early_stopping=settings.early_stopping,
        max_new_tokens=new_tokens,
        min_length=prompt_len + settings.min_new_tokens,
        no_repeat_ngram_size=0,
        do_sample=False,
        length_penalty=1.0,
        num_return_sequences=1,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        use_cache=True,
    )


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
        self.new_tokens = settings.new_tokens(bucket)
        self.config = generation_config(settings, eos_id, self.new_tokens, bucket)
        spec = tf.TensorSpec((batch_size, bucket), tf.int32)
        # jit=False runs the same code eagerly (debugging, reference checks).
        self._fn = (
            tf.function(self._generate, jit_compile=True, input_signature=[spec, spec])
            if jit
            else self._generate
        )

    def _processors(self, attention_mask: tf.Tensor) -> TFLogitsProcessorList:
        """Built inside the trace, so the row starts are graph tensors."""
        size = self.settings.no_repeat_ngram_size
        if not size:
            return TFLogitsProcessorList()
        starts = self.bucket - tf.reduce_sum(attention_mask, axis=1)
        # Beam search flattens [batch, beams] rows batch-major.
        starts = tf.repeat(starts, self.settings.num_beams)
        return TFLogitsProcessorList([XLANoRepeatNGramLogitsProcessor(size, starts)])

    def _generate(self, input_ids: tf.Tensor, attention_mask: tf.Tensor) -> tf.Tensor:
        return self.model.generate(
            input_ids,
            attention_mask=attention_mask,
            generation_config=self.config,
            logits_processor=self._processors(attention_mask),
        )

    def __call__(self, input_ids, attention_mask) -> tf.Tensor:
        """[batch, bucket + new_tokens] token ids (prompt included, EOS-padded)."""
        return self._fn(
            tf.constant(input_ids, tf.int32), tf.constant(attention_mask, tf.int32)
        )
