"""Benchmark the text engine (`make bench`; run from services/web).

For each model it measures, in a fresh worker process: worker start (import,
load, batch-1 compiles: when a worker takes its first job) with a cold and
then a warm XLA cache, and the larger batches' background compiles; then per
document latency (median of --repeats) and documents per minute for

  (a) the original's way: eager `generate`, model already loaded;
  (b) this engine, one prompt per call;
  (c) this engine, a batch of --batch prompts per call;

and the worker's peak RSS; then CTranslate2 (if installed) on the same
prompts and lengths, float32 and int8: through this project's backend and
through ct2's own generate_batch, with token agreement; and the TF engine
against ct2's own float32 timed in turns (paired ratios: drift-free).

Arrivals (--arrivals, on for 124m): --arrival-docs requests arrive at
random (a seeded Poisson process over --arrival-span times the static
batch time of as many documents) and are served (a) the static way, a
StaticBatch of up to --batch rows (today's worker: drain what waits into
one generate call), and (b) through the engine's running_batch(--batch),
on the TF engine and on CTranslate2 int8: documents per minute and the
p50/p95 queue wait and latency of each (bench/arrivals.py), after untimed
runs that compile what the running batch compiles (arrivals.warm_up).

Models: "seed" (the bundled seed model), "124m"
(GPT2Config() with random weights, made never to end, so every document is
the full --new-tokens long) and "tiny" (a smoke test).  The last line printed is
one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WEB_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(WEB_ROOT))


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="seed,124m", help="tiny,seed,124m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="prompts per call (c)")
    parser.add_argument(
        "--batch-sizes", help="batch sizes the engine compiles (default: the engine's)"
    )
    parser.add_argument(
        "--new-tokens",
        type=int,
        default=100,
        help="forced document length for 124m and tiny",
    )
    parser.add_argument("--buckets", help="length buckets (default: the engine's)")
    parser.add_argument("--skip-eager", action="store_true")
    parser.add_argument(
        "--all-buckets",
        action="store_true",
        help="also compile every bucket and time a document at the longest prompt",
    )
    parser.add_argument(
        "--arrivals",
        default="124m",
        help="models that get the arrival scenario (none: no model)",
    )
    parser.add_argument("--arrival-docs", type=int, default=24)
    parser.add_argument(
        "--arrival-span",
        type=float,
        default=1.5,
        help="arrivals span this many times the static batch time of the docs",
    )
    parser.add_argument("--arrival-seed", type=int, default=0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # model dir, internal
    parser.add_argument("--arrival-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--forced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warmup-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- worker side


def _rss_mb() -> float:
    """Peak resident set size of this process so far (VmHWM)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    """Resident set size now (VmRSS), after returning freed heap to the OS."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status") as status:
        line = next(ln for ln in status if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _settings(args):
    from textgen import GenerationSettings

    options = {}
    if args.buckets:
        options["length_buckets"] = tuple(int(b) for b in args.buckets.split(","))
    if args.forced:  # a model that never ends (_never_ending): no minimum needed
        options.update(
            max_new_tokens=args.new_tokens,
            min_new_tokens=0,
            longest=max(args.new_tokens, 200),
        )
    return GenerationSettings(**options)


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(size) for size in text.split(","))


def _timed(function, repeats):
    """(median seconds of `repeats` calls, the last call's result)."""
    return _timed_in_turns({"only": function}, repeats)["only"]


def _timed_in_turns(functions: dict, repeats) -> dict:
    """`_timed` for several functions, run in turns (one call of each per
    round): this machine's speed drifts over minutes, and figures timed one
    after the other a minute apart drift apart (our int8 backend once read
    1.15x ct2's own that way, and 1.01x in turns)."""
    times = {name: [] for name in functions}
    results = {}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            results[name] = function()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), results[name]) for name in functions}


def _prompts(count):
    from textgen.equivalence import FIXED_PROMPTS

    return [FIXED_PROMPTS[i % len(FIXED_PROMPTS)] for i in range(count)]


def _eager_doc(generator, prompt):
    from textgen.eager import eager_generate_ids

    prepared = generator.prepare(prompt)
    return eager_generate_ids(
        generator.model,
        prepared.ids,
        generator.settings,
        generator.eos_id,
        prepared.new_tokens,
    )


def _measure_engine(generator, args, prompts) -> tuple[dict, list, list]:
    """The TF engine on one prompt and on all: (figures, ids one, ids all)."""
    out = {}
    single, ids = _timed(lambda: generator.generate_ids(prompts[:1]), args.repeats)
    out["engine_single_s"] = single
    out["tokens_per_doc"] = len(ids[0])
    generator.generate_ids(prompts)  # a busy worker has compiled its batches
    batch, batch_ids = _timed(lambda: generator.generate_ids(prompts), args.repeats)
    out["engine_batch_s_per_doc"] = batch / len(prompts)
    out["batch_equals_single"] = batch_ids[0] == ids[0]
    out["peak_rss_mb_engine"] = _rss_mb()
    out["rss_mb_engine_now"] = _current_rss_mb()
    return out, ids, batch_ids


def _measure_eager(generator, args, prompt, engine_ids) -> dict:
    eager, eager_ids = _timed(lambda: _eager_doc(generator, prompt), args.repeats)
    return {"eager_s": eager, "eager_equals_engine": eager_ids == engine_ids}


def _agreement(ours, theirs) -> float:
    """Share of the TF engine's tokens that the other engine gives at the same place."""
    pairs = zip(ours, theirs, strict=True)
    same = sum(a == b for x, y in pairs for a, b in zip(x, y, strict=False))
    total = sum(len(x) for x in ours)
    return same / total if total else 1.0


def _measure_ct2(generator, args, prompts, tf_ids) -> dict:
    """CTranslate2 on the same prompts and lengths, in this process, if installed.

    For float32 and int8: our backend (CT2Runner, what TEXTGEN_BACKEND=
    ctranslate2 runs) one prompt and `--batch` prompts, and ct2's own
    generate_batch on the same prompts (its plain beam search: what ct2 does
    with no help), plus token agreement with the TF engine.
    """
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return {}
    from textgen.backends import converted_copy
    from textgen.ct2_run import CT2Runner

    copy = converted_copy(Path(args.worker))
    settings = generator.settings
    prepared = [generator.prepare(prompt) for prompt in prompts]
    new = prepared[0].new_tokens
    options = dict(
        max_new_tokens=new,
        min_new_tokens=min(settings.min_new_tokens, new),
        num_beams=settings.num_beams,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
    )
    ids = [list(p.ids) for p in prepared]
    out = {}
    for compute_type in ("float32", "int8"):
        runner = CT2Runner(copy, device="cpu", compute_type=compute_type)
        tokens = [[runner.tokens[i] for i in row] for row in ids]

        def ours(rows, runner=runner):
            return runner.generate_ids(rows, **options)

        def own(rows, runner=runner):
            return runner.generator.generate_batch(
                rows,
                beam_size=settings.num_beams,
                no_repeat_ngram_size=settings.no_repeat_ngram_size,
                max_length=new,
                min_length=options["min_new_tokens"],
                include_prompt_in_result=False,
            )

        figures = _timed_in_turns(
            {
                "single": lambda: ours(ids[:1]),
                "batch": lambda: ours(ids),
                "own_single": lambda t=tokens: own(t[:1]),
                "own_batch": lambda t=tokens: own(t),
            },
            args.repeats,
        )
        (single, _), (batch, ct2_ids) = figures["single"], figures["batch"]
        (own_single, _), (own_batch, _) = figures["own_single"], figures["own_batch"]
        out[f"ct2_{compute_type}"] = {
            "backend_single_s": single,
            "backend_batch_s_per_doc": batch / len(prompts),
            "own_single_s": own_single,
            "own_batch_s_per_doc": own_batch / len(prompts),
            "agreement_with_tf": _agreement(tf_ids, ct2_ids),
        }
        if compute_type == "float32":
            out["paired_tf_vs_ct2_float32"] = _paired_ratios(
                generator, own, prompts, tokens, args.repeats
            )
    return out


def _paired_ratios(generator, own, prompts, tokens, repeats) -> dict:
    """TF engine seconds over ct2's own, timed in turns, median per case.

    This machine's speed drifts over minutes (it is shared), so two figures
    timed a minute apart can differ by more than the engines do; timing the
    two engines back to back and taking the median ratio cancels the drift.
    """
    ratios = {"one": [], "batch": []}
    for _ in range(repeats):
        for case, count in (("one", 1), ("batch", len(prompts))):
            tf_s, _ = _timed(lambda c=count: generator.generate_ids(prompts[:c]), 1)
            ct2_s, _ = _timed(lambda c=count: own(tokens[:c]), 1)
            ratios[case].append(tf_s / ct2_s)
    return {case: statistics.median(values) for case, values in ratios.items()}


# Requests whose text is compared with generate([request]) alone.
ARRIVALS_CHECKED = 3


def _arrival_requests(args):
    """Beam requests of the app's short and medium kind (40 and 100 new tokens
    at --new-tokens 100), seeded: rows that could leave early."""
    import random

    from textgen.settings import Request

    draw = random.Random(args.arrival_seed)
    lengths = (max(1, args.new_tokens * 2 // 5), args.new_tokens)
    return [
        Request(prompt, new_tokens=draw.choice(lengths))
        for prompt in _prompts(args.arrival_docs)
    ]


def _measure_arrivals(generator, args, static_s_per_doc: float) -> dict:
    """The same arrivals served static and running on one engine."""
    from bench.arrivals import poisson_arrivals, serve, warm_up
    from textgen.running import StaticBatch

    requests = _arrival_requests(args)
    span = args.arrival_span * len(requests) * static_s_per_doc
    arrivals = poisson_arrivals(len(requests), span, args.arrival_seed)
    out = {"span_s": span, "rows": args.batch}
    out["warm_up_compiles"] = warm_up(
        lambda: generator.running_batch(args.batch), requests, arrivals, args.batch
    )
    texts = {}
    for way, batch in (
        ("static", StaticBatch(generator, args.batch)),
        ("running", generator.running_batch(args.batch)),
    ):
        out[way], texts[way] = serve(batch, requests, arrivals)
    alone = [generator.generate([r])[0] for r in requests[:ARRIVALS_CHECKED]]
    for way, served in texts.items():
        same = sum(a == b for a, b in zip(alone, served, strict=False))
        out[way]["equal_alone"] = f"{same}/{len(alone)}"
    return out


def _measure_ct2_arrivals(settings, args, timings) -> dict:
    """The arrival scenario on CTranslate2 int8 (TEXTGEN_BACKEND=ctranslate2)."""
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return {}
    from textgen.backends import CT2Generator

    generator = CT2Generator.load(args.worker, settings, compute_type="int8")
    static = timings.get("ct2_int8", {}).get("backend_batch_s_per_doc")
    if static is None:
        prompts = _prompts(args.batch)
        seconds, _ = _timed(lambda: generator.generate_ids(prompts), 1)
        static = seconds / len(prompts)
    return _measure_arrivals(generator, args, static)


def _measure_all_buckets(generator) -> dict:
    """Compile the buckets the worker leaves for first use; a longest-prompt doc."""
    from textgen.settings import Request

    compile_s = generator.warmup(buckets=generator.settings.length_buckets)
    prompt = " ".join(["apt"] * 2 * generator.settings.length_buckets[-1])
    request = Request(prompt, new_tokens=generator.settings.max_new_tokens)
    seconds, _ = _timed(lambda: generator.generate_ids([request]), 1)
    return {
        "all_buckets_compile_s": compile_s,
        "peak_rss_mb_all_buckets": _rss_mb(),
        "longest_prompt_tokens": len(generator.prepare(prompt).ids),
        "longest_prompt_doc_s": seconds,
    }


def worker(args) -> None:
    """Runs in its own process: start the engine, measure, print one JSON line."""
    start = time.perf_counter()
    import textgen

    timings = {"import_s": time.perf_counter() - start}
    tick = time.perf_counter()
    options = {"batch_sizes": _sizes(args.batch_sizes)} if args.batch_sizes else {}
    generator = textgen.Generator.load(
        args.worker, _settings(args), warmup=False, **options
    )
    timings["load_s"] = time.perf_counter() - tick
    timings["compile_s"] = generator.warmup(background=True)
    timings["start_s"] = time.perf_counter() - start
    tick = time.perf_counter()
    generator.wait_warm()
    timings["background_compile_s"] = time.perf_counter() - tick
    timings["programs"] = len(generator.compiled())
    timings["rss_mb_after_start"] = _rss_mb()
    if not args.warmup_only:
        prompts = _prompts(args.batch)
        engine, ids, batch_ids = _measure_engine(generator, args, prompts)
        timings.update(engine)
        # Before ct2 loads its models: peak RSS is one figure per process.
        if args.all_buckets:
            timings.update(_measure_all_buckets(generator))
        if args.arrival_run:
            arrivals = {
                "tf": _measure_arrivals(
                    generator, args, timings["engine_batch_s_per_doc"]
                )
            }
        timings.update(_measure_ct2(generator, args, prompts, batch_ids))
        if args.arrival_run:
            ct2 = _measure_ct2_arrivals(generator.settings, args, timings)
            if ct2:
                arrivals["ct2_int8"] = ct2
            timings["arrivals"] = arrivals
        if not args.skip_eager:
            timings.update(_measure_eager(generator, args, prompts[0], ids[0]))
    timings["model"] = generator.info.as_dict()
    print("RESULT " + json.dumps(timings), flush=True)


# ---------------------------------------------------------------- parent side


def _model_dir(name: str, workdir: Path) -> Path | None:
    from textgen.loading import SEED_MODEL_DIR
    from textgen.tiny import build_tiny_gpt2

    if name == "seed":
        return SEED_MODEL_DIR if (SEED_MODEL_DIR / "config.json").is_file() else None
    directory = build_tiny_gpt2(workdir / name)
    if name == "124m":
        _replace_with_124m(directory)
    return directory


def _replace_with_124m(directory: Path) -> None:
    """GPT-2 124M architecture, random weights; the tiny tokenizer stays.

    The hub is unreachable here, so there is no real GPT-2 tokenizer: prompts
    are encoded with the tiny BPE (ids < 500), which is all the model needs.
    """
    import tensorflow as tf
    from transformers import GPT2Config, TFGPT2LMHeadModel

    tf.random.set_seed(0)
    model = TFGPT2LMHeadModel(GPT2Config())
    model(tf.constant([[0]]))
    _never_ending(model)
    (directory / "tf_model.h5").unlink()
    model.save_pretrained(directory)


def _never_ending(model) -> None:
    """Make EOS lose every time, so that every engine writes full documents.

    ln_f pins hidden unit 0 at 10 for every token, and EOS's (tied) embedding
    row reads only that unit, with weight -100: EOS's logit is always -1000.
    A minimum length would do the same in TF, but CTranslate2 ignores
    min_length when a batch's prompts differ in length (textgen/ct2_run.py).
    """
    transformer = model.transformer
    gamma, beta = transformer.ln_f.gamma.numpy(), transformer.ln_f.beta.numpy()
    gamma[0], beta[0] = 0.0, 10.0
    transformer.ln_f.gamma.assign(gamma)
    transformer.ln_f.beta.assign(beta)
    (embeddings,) = transformer.wte.weights
    rows = embeddings.numpy()
    rows[model.config.eos_token_id] = 0.0
    rows[model.config.eos_token_id, 0] = -100.0
    embeddings.assign(rows)


def _run_worker(model_dir, args, cache_dir, warmup_only=False) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        str(model_dir),
        "--repeats",
        str(args.repeats),
        "--batch",
        str(args.batch),
        "--new-tokens",
        str(args.new_tokens),
    ]
    command += ["--buckets", args.buckets] if args.buckets else []
    command += ["--batch-sizes", args.batch_sizes] if args.batch_sizes else []
    command += ["--forced"] if args.forced else []
    command += ["--warmup-only"] if warmup_only else []
    command += ["--skip-eager"] if args.skip_eager else []
    command += ["--all-buckets"] if args.all_buckets and not warmup_only else []
    if args.arrival_run and not warmup_only:
        command += ["--arrival-run", "--arrival-docs", str(args.arrival_docs)]
        command += ["--arrival-span", str(args.arrival_span)]
        command += ["--arrival-seed", str(args.arrival_seed)]
    env = dict(os.environ, TEXTGEN_XLA_CACHE=str(cache_dir), TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=WEB_ROOT, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["process_wall_s"] = wall
    return result


def bench_model(name: str, args, workdir: Path) -> dict | None:
    model_dir = _model_dir(name, workdir)
    if model_dir is None:
        print(f"[{name}] skipped: no model", file=sys.stderr)
        return None
    args.forced = name != "seed"
    args.arrival_run = name in args.arrivals.split(",")
    cache = workdir / f"xla-{name}"  # empty: the first start compiles cold
    cold = _run_worker(model_dir, args, cache)
    warm = _run_worker(model_dir, args, cache, warmup_only=True)
    cold["warm_start_s"] = warm["start_s"]
    cold["warm_compile_s"] = warm["compile_s"]
    return _derive(cold)


def _derive(result: dict) -> dict:
    """Documents per minute and the speed-up ratios the issue asks for."""
    single, batch = result["engine_single_s"], result["engine_batch_s_per_doc"]
    result["docs_per_min_single"] = 60 / single
    result["docs_per_min_batch"] = 60 / batch
    result["batch_vs_single"] = single / batch
    if "eager_s" in result:
        result["docs_per_min_eager"] = 60 / result["eager_s"]
        result["single_speedup_vs_eager"] = result["eager_s"] / single
    return result


def _table(results: dict) -> str:
    rows = [
        (
            "model",
            "tok/doc",
            "(a) eager s",
            "(b) one s",
            "(c) batch s/doc",
            "b/a x",
            "c/b x",
            "compile s (+bg)",
            "start cold/warm s",
            "RSS now/peak MB",
        )
    ]
    for name, r in results.items():
        rows.append(
            (
                name,
                str(r["tokens_per_doc"]),
                f"{r.get('eager_s', float('nan')):.2f}",
                f"{r['engine_single_s']:.2f}",
                f"{r['engine_batch_s_per_doc']:.2f}",
                f"{r.get('single_speedup_vs_eager', float('nan')):.1f}",
                f"{r['batch_vs_single']:.2f}",
                f"{r['compile_s']:.1f}+{r['background_compile_s']:.1f}",
                f"{r['start_s']:.1f}/{r['warm_start_s']:.1f}",
                f"{r['rss_mb_engine_now']:.0f}/{r['peak_rss_mb_engine']:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def _ct2_table(results: dict) -> str:
    """Seconds per document: the TF engine against CTranslate2, one and batched."""
    lines = ["model  engine  one s  batch s/doc  tokens equal to TF"]
    for name, r in results.items():
        lines.append(
            f"{name}  tf-xla  {r['engine_single_s']:.2f}  "
            f"{r['engine_batch_s_per_doc']:.2f}  -"
        )
        for kind in ("float32", "int8"):
            c = r.get(f"ct2_{kind}")
            if not c:
                continue
            lines.append(
                f"{name}  ct2-{kind} (ours)  {c['backend_single_s']:.2f}  "
                f"{c['backend_batch_s_per_doc']:.2f}  {c['agreement_with_tf']:.0%}"
            )
            lines.append(
                f"{name}  ct2-{kind} (generate_batch)  {c['own_single_s']:.2f}  "
                f"{c['own_batch_s_per_doc']:.2f}  -"
            )
    return "\n".join(lines)


def _arrivals_table(results: dict) -> str:
    """The arrival scenario: one line per model, engine and way of batching."""
    from bench.arrivals import table

    rows = {}
    for name, result in results.items():
        for engine, served in result.get("arrivals", {}).items():
            for way in ("static", "running"):
                label = f"{name} {engine} {way} (span {served['span_s']:.1f} s)"
                rows[label] = served[way]
    return table(rows) if rows else ""


def _ct2_ratios(result: dict) -> dict:
    """The issue's targets as ratios (>1: the first is slower than the second)."""
    f32, int8 = result.get("ct2_float32"), result.get("ct2_int8")
    if not (f32 and int8):
        return {}
    tf_one, tf_batch = result["engine_single_s"], result["engine_batch_s_per_doc"]
    paired = result.get("paired_tf_vs_ct2_float32", {})
    return {
        "tf_vs_ct2_float32_one": tf_one / f32["own_single_s"],
        "tf_vs_ct2_float32_batch": tf_batch / f32["own_batch_s_per_doc"],
        "tf_vs_ct2_float32_one_paired": paired.get("one", float("nan")),
        "tf_vs_ct2_float32_batch_paired": paired.get("batch", float("nan")),
        "tf_vs_ct2_int8_batch": tf_batch / int8["own_batch_s_per_doc"],
        "backend_vs_generate_batch_int8_batch": int8["backend_batch_s_per_doc"]
        / int8["own_batch_s_per_doc"],
    }


def main(argv=None) -> int:
    from textgen import runtime

    # The worker's TensorFlow settings (TEXTGEN_XLA_CACHE included, which
    # the timed worker processes get from _run_worker), before TF loads.
    runtime.setup()
    args = _parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-textgen-") as tmp:
        for name in args.models.split(","):
            result = bench_model(name.strip(), args, Path(tmp))
            if result is not None:
                results[name.strip()] = result
    print(_table(results))
    print(_ct2_table(results))
    arrivals = _arrivals_table(results)
    if arrivals:
        print(arrivals)
    for name, result in results.items():
        ratios = _ct2_ratios(result)
        result.update(ratios)
        for key, ratio in ratios.items():
            print(f"{name}  {key}  {ratio:.2f}x")
    print(
        json.dumps({"repeats": args.repeats, "batch": args.batch, "results": results})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
