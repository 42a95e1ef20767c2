"""Where one decoding step's time goes: python bench/step_parts.py [MODEL_DIR].

Without MODEL_DIR it builds the bench's GPT-2 124M model (random weights).

Times, per step, in one XLA program each (a loop of `--steps` steps after a
compile run), for 1 and 4 documents of 5 beams:
- `step`: decode.decode_step as the engine runs it;
- `no head`: the same step, the output layer replaced by a slice;
- `no attention`: the weight products, layer norms and GELU of every layer,
  attention left out.
`step - no head` is the output layer, `no head - no attention` is attention.
Prints one line per figure and a last JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textgen import runtime  # noqa: E402

runtime.setup()  # the worker's TensorFlow settings, before TensorFlow loads

import tensorflow as tf  # noqa: E402
from bench_textgen import _model_dir  # noqa: E402

from textgen import GenerationSettings, Generator, decode, layout  # noqa: E402

BEAMS = 5
BUCKET = 16


def _per_call_ms(function, *args, calls: int = 1, repeats: int = 3) -> float:
    """The fastest of `repeats` runs, per call: this machine is shared and
    noisy, and noise only ever adds time."""
    function(*args)  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), function(*args))
        best = min(best, time.perf_counter() - start)
    return best * 1000 / calls


def _no_head(model, hidden):
    return hidden[:, :8]


def _no_attention(model, tokens, step, prompt, cache):
    transformer = model.transformer
    rows = tokens.shape[0] * tokens.shape[1]
    x = transformer.wte(tf.reshape(tokens + step, (rows, 1)))
    for block in transformer.h:
        qkv = block.attn.c_attn(block.ln_1(x))
        x = x + block.attn.c_proj(qkv[:, :, : model.config.n_embd])
        x = x + block.mlp(block.ln_2(x))
    return x[:, -1, :8], cache


def _steps_ms(model, batch: int, new_len: int, steps: int, part: str) -> float:
    ids = tf.fill((batch, BUCKET), 5)
    mask = tf.ones((batch, BUCKET), tf.int32)

    def step(tokens, i, prompt, cache):
        if part == "no attention":
            return _no_attention(model, tokens, i, prompt, cache)
        if part == "no head":
            real_head, layout.head = layout.head, _no_head
            try:
                return decode.decode_step(model, tokens, i, prompt, cache)
            finally:
                layout.head = real_head
        return decode.decode_step(model, tokens, i, prompt, cache)

    @tf.function(jit_compile=True, autograph=False)
    def run(ids, mask):
        _, prompt = decode.prompt_pass(model, ids, mask)
        cache = decode.empty_cache(model, batch, BEAMS, new_len)
        tokens = tf.fill((batch, BEAMS), 7)

        def body(i, cache, total):
            logits, cache = step(tokens, i, prompt, cache)
            return i + 1, cache, total + logits[0, 0]

        return tf.while_loop(lambda i, *_: i < steps, body, (0, cache, 0.0))[2]

    return _per_call_ms(run, ids, mask, calls=steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)
    settings = GenerationSettings(min_new_tokens=0)
    with tempfile.TemporaryDirectory() as workdir:
        model_dir = args.model_dir or str(_model_dir("124m", Path(workdir)))
        generator = Generator.load(model_dir, settings, warmup=False)
    model = generator.model
    new_len = min(BUCKET + settings.most_new_tokens, generator.n_positions) - BUCKET
    results = {}
    for batch in (1, 4):
        figures = {
            part: _steps_ms(model, batch, new_len, args.steps, part)
            for part in ("step", "no head", "no attention")
        }
        results[f"{batch * BEAMS} rows"] = figures
        for name, ms in figures.items():
            print(f"{batch * BEAMS:>3} rows  {name:<13} {ms:7.1f} ms", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
