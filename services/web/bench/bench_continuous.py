"""Continuous against static batching, 8 rows busy: python bench/bench_continuous.py

Builds the bench's GPT-2 124M model (random weights, EOS never wins, so
every row writes all its tokens) and times, after a compile run each:
- static: `generate_ids` on 8 beam requests (one compiled batch of 8);
- continuous: the same 8 admitted to a ContinuousBatch at once, advanced
  until all have ended (chunks of --chunk-steps tokens).
Prints seconds per document and per step of each, the ratio, whether the
texts are equal, and a last JSON line.  Heavy: ~3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_textgen import _model_dir  # noqa: E402

from textgen import runtime  # noqa: E402

runtime.setup()  # the worker's TensorFlow settings, before TensorFlow loads

from textgen import Generator  # noqa: E402
from textgen.settings import Request  # noqa: E402

ROWS = 8
PROMPT = "The package manager installs software"  # bucket 16


def _static(generator, requests) -> tuple[float, float, list]:
    start, cpu = time.perf_counter(), time.process_time()
    ids = generator.generate_ids(requests)
    return time.perf_counter() - start, time.process_time() - cpu, ids


def _continuous(generator, requests, chunk_steps) -> tuple[float, float, list, list]:
    batch = generator.running_batch(ROWS, chunk_steps=chunk_steps)
    for key, request in enumerate(requests):
        batch.admit(key, request)
    results, chunks = {}, []
    start, cpu = time.perf_counter(), time.process_time()
    while len(batch):
        tick = time.perf_counter()
        for done in batch.advance():
            results[done.key] = done.ids
        chunks.append(time.perf_counter() - tick)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, [results[key] for key in range(len(requests))], chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=40, help="new tokens a row")
    parser.add_argument("--chunk-steps", type=int, default=8)
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        directory = _model_dir("124m", Path(workdir))
        generator = Generator.load(
            str(directory), warmup=False, batch_sizes=(1, 4, ROWS)
        )
        requests = [
            Request(f"{PROMPT} {index}", new_tokens=args.tokens)
            for index in range(ROWS)
        ]
        compile_run = [Request(r.prompt, new_tokens=2) for r in requests]
        _static(generator, compile_run)
        _continuous(generator, compile_run, args.chunk_steps)
        # The best of `--runs` each, taken in turns: the machine is shared,
        # and noise only ever adds time.  CPU seconds (all threads) are
        # steadier than wall seconds when other work competes for the cores.
        static = continuous = (float("inf"), float("inf"))
        for _ in range(args.runs):
            *seconds, static_ids = _static(generator, requests)
            static = tuple(map(min, static, seconds))
            *seconds, continuous_ids, chunks = _continuous(
                generator, requests, args.chunk_steps
            )
            continuous = tuple(map(min, continuous, seconds))
    figures = {
        "tokens": args.tokens,
        "chunk_steps": args.chunk_steps,
        "static_s_per_doc": round(static[0] / ROWS, 3),
        "continuous_s_per_doc": round(continuous[0] / ROWS, 3),
        "static_ms_per_step": round(1000 * static[0] / args.tokens, 1),
        "continuous_ms_per_step": round(1000 * continuous[0] / args.tokens, 1),
        "ratio": round(continuous[0] / static[0], 3),
        "static_cpu_s_per_doc": round(static[1] / ROWS, 3),
        "continuous_cpu_s_per_doc": round(continuous[1] / ROWS, 3),
        "cpu_ratio": round(continuous[1] / static[1], 3),
        "chunks_s": [round(seconds, 2) for seconds in chunks],
        "equal": continuous_ids == static_ids,
    }
    for name, value in figures.items():
        print(f"{name:24} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
