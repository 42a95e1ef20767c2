"""GPU figures: CTranslate2 (float16, float32) and PyTorch generate on one card.

    python -m bench.bench_gpu [--batch 8] [--repeats 3] [--workdir DIR]

It needs ctranslate2 and a CUDA GPU, and no TensorFlow: the GPU machine this
project was measured on could not install TensorFlow's CUDA build, so the
model is built here with numpy rather than by bench_textgen (which builds it
with TF). Where TensorFlow with a GPU is installed, `make bench` measures the
TF engine on the GPU the same way it does on a CPU.

The documents are those of `make bench --models 124m`: GPT-2 124M
architecture, random weights that never choose EOS (so every engine writes
all 100 tokens), beam 5, no-repeat 4. Prompts are the equivalence check's
fixed prompts, encoded by the seed model's tokenizer. Rows, as in make bench:
the app's backend (TEXTGEN_BACKEND=ctranslate2, via load_generator) on one
document and on `--batch` waiting ones, ct2's own generate_batch on the same
token ids, and transformers' PyTorch generate where torch sees a GPU. The
last line is the result as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

NEW_TOKENS = 100
NUM_BEAMS = 5
NO_REPEAT = 4
# GPT-2 124M (transformers' GPT2Config defaults).
CONFIG = {
    "architectures": ["GPT2LMHeadModel"],
    "model_type": "gpt2",
    "activation_function": "gelu_new",
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "n_inner": None,
    "layer_norm_epsilon": 1e-5,
    "bos_token_id": 50256,
    "eos_token_id": 50256,
    "tie_word_embeddings": True,
}


def build_random_124m(directory: Path, tokenizer_dir: Path) -> Path:
    """GPT-2 124M with N(0, 0.02) weights, PyTorch names, EOS never chosen.

    EOS is silenced as bench_textgen._never_ending does it: ln_f pins hidden
    unit 0 at 10, and EOS's (tied) embedding row reads only that unit, with
    weight -100.
    """
    from safetensors.numpy import save_file

    rng = np.random.RandomState(0)
    width, vocab = CONFIG["n_embd"], CONFIG["vocab_size"]

    def normal(*shape):
        return rng.normal(0.0, 0.02, shape).astype(np.float32)

    def norm(name):
        weights[f"{name}.weight"] = np.ones(width, np.float32)
        weights[f"{name}.bias"] = np.zeros(width, np.float32)

    def conv1d(name, n_in, n_out):  # GPT-2's Conv1D stores [in, out]
        weights[f"{name}.weight"] = normal(n_in, n_out)
        weights[f"{name}.bias"] = np.zeros(n_out, np.float32)

    weights = {"wte.weight": normal(vocab, width)}
    weights["wpe.weight"] = normal(CONFIG["n_positions"], width)
    for layer in range(CONFIG["n_layer"]):
        prefix = f"h.{layer}"
        norm(f"{prefix}.ln_1")
        conv1d(f"{prefix}.attn.c_attn", width, 3 * width)
        conv1d(f"{prefix}.attn.c_proj", width, width)
        norm(f"{prefix}.ln_2")
        conv1d(f"{prefix}.mlp.c_fc", width, 4 * width)
        conv1d(f"{prefix}.mlp.c_proj", 4 * width, width)
    norm("ln_f")
    weights["ln_f.weight"][0], weights["ln_f.bias"][0] = 0.0, 10.0
    eos = CONFIG["eos_token_id"]
    weights["wte.weight"][eos] = 0.0
    weights["wte.weight"][eos, 0] = -100.0

    directory.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copyfile(tokenizer_dir / name, directory / name)
    return directory


def _timed(function, repeats: int) -> tuple[float, object]:
    function()  # warm: CUDA kernels, allocator, cuBLAS handles
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _guarded(results: dict, key: str, measure) -> None:
    """One row's failure is reported in the JSON, not the end of the run."""
    try:
        results[key] = measure()
    except Exception as exc:  # noqa: BLE001 - a bench reports, it does not stop
        traceback.print_exc()
        results[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    print(key, json.dumps(results[key]), flush=True)


def _measure_backend(model_dir: Path, compute_type: str, prompts, args) -> dict:
    """TEXTGEN_BACKEND=ctranslate2 through the app's own interface."""
    from textgen import GenerationSettings, load_generator
    from textgen.settings import Request

    settings = GenerationSettings(
        max_new_tokens=NEW_TOKENS, min_new_tokens=0, longest=max(NEW_TOKENS, 200)
    )
    start = time.perf_counter()
    generator = load_generator(
        str(model_dir), settings, backend="ctranslate2", compute_type=compute_type
    )
    if generator.runner.device != args.device:
        raise RuntimeError(f"ctranslate2 runs on {generator.runner.device}")
    load_s = time.perf_counter() - start
    requests = [Request(prompt, new_tokens=NEW_TOKENS) for prompt in prompts]
    single, _ = _timed(lambda: generator.generate_ids(requests[:1]), args.repeats)
    batch, ids = _timed(lambda: generator.generate_ids(requests), args.repeats)
    return {
        "device": generator.runner.device,
        "load_s": load_s,
        "single_s": single,
        "batch_s_per_doc": batch / len(prompts),
        "new_tokens": [len(row) for row in ids],
    }


def _measure_own(model_dir: Path, compute_type: str, ids, args) -> dict:
    """ct2's own generate_batch: its plain beam search, no help from us."""
    import ctranslate2

    from textgen.backends import converted_copy

    generator = ctranslate2.Generator(
        str(converted_copy(model_dir)), device=args.device, compute_type=compute_type
    )
    vocabulary = json.loads((converted_copy(model_dir) / "vocabulary.json").read_text())
    tokens = [[vocabulary[i] for i in row] for row in ids]

    def run(rows):
        return generator.generate_batch(
            rows,
            beam_size=NUM_BEAMS,
            no_repeat_ngram_size=NO_REPEAT,
            max_length=NEW_TOKENS,
            include_prompt_in_result=False,
        )

    single, _ = _timed(lambda: run(tokens[:1]), args.repeats)
    batch, _ = _timed(lambda: run(tokens), args.repeats)
    return {"single_s": single, "batch_s_per_doc": batch / len(ids)}


def _measure_torch(model_dir: Path, dtype_name: str, ids, args) -> dict:
    """transformers' PyTorch generate, the same settings, left-padded batch."""
    import torch
    from transformers import GPT2LMHeadModel

    dtype = getattr(torch, dtype_name)
    model = GPT2LMHeadModel.from_pretrained(str(model_dir), dtype=dtype).cuda().eval()
    eos = CONFIG["eos_token_id"]

    def run(rows):
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([[eos] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids.cuda(),
                attention_mask=mask.cuda(),
                max_new_tokens=NEW_TOKENS,
                num_beams=NUM_BEAMS,
                no_repeat_ngram_size=NO_REPEAT,
                early_stopping=True,
                do_sample=False,
                pad_token_id=eos,
            )
        torch.cuda.synchronize()
        return out

    single, _ = _timed(lambda: run(ids[:1]), args.repeats)
    batch, _ = _timed(lambda: run(ids), args.repeats)
    return {"single_s": single, "batch_s_per_doc": batch / len(ids)}


def _gpu_name() -> str:
    import subprocess

    try:
        return subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no GPU"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--device", default="cuda", help="cuda, or cpu to try it")
    parser.add_argument("--compute-types", default="float16,float32")
    parser.add_argument("--torch-dtypes", default="float16,float32")
    args = parser.parse_args(argv)

    from textgen import runtime

    runtime.setup()  # the worker's settings, should anything load TensorFlow
    from tokenizers import Tokenizer

    from textgen.equivalence import FIXED_PROMPTS
    from textgen.loading import SEED_MODEL_DIR

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    model_dir = build_random_124m(workdir / "124m", SEED_MODEL_DIR)
    prompts = [FIXED_PROMPTS[i % len(FIXED_PROMPTS)] for i in range(args.batch)]
    tokenizer = Tokenizer.from_file(str(SEED_MODEL_DIR / "tokenizer.json"))
    ids = [tokenizer.encode(prompt).ids for prompt in prompts]
    results: dict = {"gpu": _gpu_name(), "batch": args.batch, "new_tokens": NEW_TOKENS}
    for compute_type in args.compute_types.split(","):
        _guarded(
            results,
            f"ct2_{compute_type}_backend",
            lambda c=compute_type: _measure_backend(model_dir, c, prompts, args),
        )
        _guarded(
            results,
            f"ct2_{compute_type}_own",
            lambda c=compute_type: _measure_own(model_dir, c, ids, args),
        )
    for dtype in args.torch_dtypes.split(","):
        _guarded(
            results,
            f"torch_{dtype}",
            lambda d=dtype: _measure_torch(model_dir, d, ids, args),
        )

    print(f"\n{results['gpu']}: {NEW_TOKENS} new tokens, beam {NUM_BEAMS}")
    print(f"{'':28} {'one document':>14} {f'{args.batch} waiting, per doc':>22}")
    for key, row in results.items():
        if isinstance(row, dict) and "single_s" in row:
            print(f"{key:28} {row['single_s']:13.3f}s {row['batch_s_per_doc']:21.3f}s")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
