"""One fine-tuning step of GPT-2 124M: python bench/bench_train_step.py

Builds the bench's GPT-2 124M model (GPT2Config(), random weights; the
tiny tokenizer, which training steps do not need) and times the training
step that textgen.training.fine_tune runs (forward, loss, gradients, one
Adam update) on a batch of --batch blocks of --block tokens: one warm-up
step (tracing), then --steps timed steps.  TensorFlow runs with the
worker's settings (textgen.runtime.setup: oneDNN off) unless --onednn.
Prints one line per step and a last JSON line with the median step time and
the process's peak RSS.  Heavy: a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_textgen import _model_dir  # noqa: E402

from textgen import runtime  # noqa: E402


def _parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="timed steps")
    parser.add_argument(
        "--onednn", action="store_true", help="TensorFlow's oneDNN kernels on"
    )
    return parser.parse_args(argv)


def _time_steps(model, args) -> tuple[float, list[float]]:
    """Seconds of the warm-up step, and of each timed step."""
    import numpy as np

    from textgen.training import make_optimizer, make_train_step

    rng = np.random.default_rng(0)
    vocab = int(model.config.vocab_size)
    ids = rng.integers(0, vocab, (args.batch, args.block), dtype=np.int32)
    mask = np.ones((args.batch, args.block), dtype=np.float32)
    step = make_train_step(model, make_optimizer(5e-5))
    times = []
    for _ in range(1 + args.steps):
        start = time.perf_counter()
        float(step(ids, mask))  # float(): wait for the step to finish
        times.append(time.perf_counter() - start)
        print(f"step {len(times) - 1}: {times[-1]:.2f} s", file=sys.stderr)
    return times[0], times[1:]


def main(argv=None) -> None:
    args = _parse_args(argv)
    runtime.setup(onednn=args.onednn)
    from textgen import loading

    with tempfile.TemporaryDirectory() as workdir:
        directory = _model_dir("124m", Path(workdir))
        _, model, info = loading.load(str(directory))
        warmup, steps = _time_steps(model, args)
    result = {
        "model": "124m",
        "batch": args.batch,
        "block": args.block,
        "step_s": round(statistics.median(steps), 3),
        "steps_s": [round(s, 3) for s in steps],
        "warmup_s": round(warmup, 2),
        "parameters": info.n_parameters,
        "onednn": args.onednn,
        # Linux reports ru_maxrss in KiB.
        "peak_rss_gib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2
        ),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
