"""Does XLA's CPU gain from bfloat16 weights here?  python bench/bf16_products.py

Times one decoding step's weight products at GPT-2 124M's shapes (the 12
blocks' four matrices and the output layer, random weights, ~124M
parameters) in one XLA program, for 5 rows (one document's beams) and 40
(8 documents): float32 weights, and bfloat16 weights with the products in
bfloat16.  Each XLA flag set runs in its own process (XLA reads XLA_FLAGS
once).  Prints one line per figure and a last JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

FLAG_SETS = {
    "default": "",
    "onednn": "--xla_cpu_experimental_onednn_custom_call=true",
    "xnnpack": "--xla_cpu_use_xnnpack=true --xla_cpu_experimental_xnn_fusion_type=dot",
}
SHAPES = [(768, 2304), (768, 768), (768, 3072), (3072, 768)] * 12 + [(768, 50257)]


def _cpu_has_bf16() -> bool:
    with open("/proc/cpuinfo") as cpuinfo:
        return "avx512_bf16" in cpuinfo.read()


def measure() -> dict:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s, np.float32) * 0.02 for s in SHAPES]
    figures = {}
    for dtype in (tf.float32, tf.bfloat16):
        variables = [tf.Variable(tf.cast(w, dtype)) for w in weights]

        @tf.function(jit_compile=True, autograph=False)
        def products(x, variables=variables, dtype=dtype):
            inputs = {768: tf.cast(x, dtype), 3072: tf.cast(tf.tile(x, [1, 4]), dtype)}
            total = tf.zeros((x.shape[0],), tf.float32)
            for w in variables:
                y = tf.matmul(inputs[w.shape[0]], w)
                total += tf.reduce_sum(tf.cast(y, tf.float32), axis=1)
            return total

        for rows in (5, 40):
            x = tf.ones((rows, 768)) / 768
            products(x).numpy()  # compile
            best = float("inf")
            for _ in range(10):
                tick = time.perf_counter()
                products(x).numpy()
                best = min(best, time.perf_counter() - tick)
            gigabytes = sum(int(np.prod(s)) for s in SHAPES) * dtype.size / 1e9
            figures[f"{dtype.name} {rows} rows"] = {
                "ms": best * 1000,
                "GB/s": gigabytes / best,
            }
    return figures


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print("RESULT " + json.dumps(measure()), flush=True)
        return 0
    results = {"avx512_bf16": _cpu_has_bf16()}
    for name, flags in FLAG_SETS.items():
        env = dict(os.environ, XLA_FLAGS=flags, TF_CPP_MIN_LOG_LEVEL="2")
        done = subprocess.run(
            [sys.executable, __file__, "--worker"],
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if not lines:
            results[name] = {"error": done.stderr.strip().splitlines()[-1:]}
            print(f"{name}: failed", done.stderr[-500:], flush=True)
            continue
        results[name] = json.loads(lines[-1][len("RESULT ") :])
        for figure, value in results[name].items():
            print(
                f"{name:8s} {figure:18s} {value['ms']:7.1f} ms "
                f"{value['GB/s']:6.1f} GB/s",
                flush=True,
            )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
