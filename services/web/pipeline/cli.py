"""Command line: ``python -m pipeline train [--max-minutes N] [--stage S] ...``.

Stages run in order and each is skipped when its output already exists:
download -> extract -> tokenizer -> train (model + metadata.json) -> samples.
``--stage S`` runs only stage S (re-running it); ``--force`` re-runs every stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import PipelineConfig, load_config
from textgen import runtime

if TYPE_CHECKING:
    import numpy as np

    from pipeline.extract import Document
    from pipeline.train import TrainResult

log = logging.getLogger("pipeline")

STAGES = ("download", "extract", "tokenizer", "train", "samples")
WEIGHTS_FILE = "model.safetensors"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="build the seed model end to end")
    train.add_argument("--config", type=Path, help="JSON file overriding defaults")
    train.add_argument("--data-dir", type=Path, help="default: data")
    train.add_argument(
        "--model-dir", type=Path, help="default: models/seedmodels/debian-docs-gpt2"
    )
    train.add_argument(
        "--max-minutes",
        type=float,
        default=25.0,
        help="training time budget (default 25)",
    )
    train.add_argument(
        "--max-steps", type=int, help="fixed step count instead of a time-derived one"
    )
    train.add_argument("--stage", choices=STAGES, help="run only this stage")
    train.add_argument(
        "--force", action="store_true", help="re-run stages whose output exists"
    )
    return parser.parse_args(argv)


def _corpus_stats_path(config: PipelineConfig) -> Path:
    return config.processed_dir / "corpus.json"


def stage_download(config: PipelineConfig, force: bool) -> None:
    from pipeline.download import download_sources

    if force:
        for pkg in config.sources:
            (config.raw_dir / pkg.name / ".done").unlink(missing_ok=True)
    download_sources(config)


def stage_extract(config: PipelineConfig, force: bool) -> None:
    from pipeline.extract import extract_corpus

    if config.paragraphs_path.exists() and not force:
        log.info("extract: %s exists, skipping", config.paragraphs_path)
        return
    stats = extract_corpus(config)
    _corpus_stats_path(config).write_text(json.dumps(stats, indent=2) + "\n")


def _split(config: PipelineConfig):
    from pipeline.extract import read_documents
    from pipeline.split import split_documents

    docs = read_documents(config.paragraphs_path)
    return split_documents(docs, config.train.val_fraction, config.train.seed)


def stage_tokenizer(config: PipelineConfig, force: bool) -> None:
    from pipeline.tokenizer import train_tokenizer

    if (config.tokenizer_dir / "tokenizer.json").exists() and not force:
        log.info("tokenizer: %s exists, skipping", config.tokenizer_dir)
        return
    train_docs, _ = _split(config)
    # Trained on the training split only, so validation text stays unseen.
    texts = ["\n".join(d.paragraphs) for d in train_docs]
    train_tokenizer(texts, config.tokenizer_dir, config.model.vocab_size)


def stage_train(
    config: PipelineConfig,
    force: bool,
    max_minutes: float,
    max_steps: int | None,
    command: str,
) -> None:
    out = config.model_dir
    if (out / WEIGHTS_FILE).exists() and not force:
        log.info("train: %s exists, skipping", out / WEIGHTS_FILE)
        return
    data = _prepare_training_data(config)
    model, result = _train_seed_model(config, data, max_minutes, max_steps)
    _save_model(model, data.tokenizer, out)
    _write_model_metadata(config, data, result, max_minutes, max_steps, command)
    log.info("saved %s (%d bytes)", out, (out / WEIGHTS_FILE).stat().st_size)


@dataclasses.dataclass
class _TrainingData:
    """The split documents, their token ids and their packed training windows."""

    tokenizer: object
    train_docs: list[Document]
    val_docs: list[Document]
    enc_train: list[list[list[int]]]
    enc_val: list[list[list[int]]]
    train_arrays: tuple[np.ndarray, np.ndarray]
    val_arrays: tuple[np.ndarray, np.ndarray]


def _prepare_training_data(config: PipelineConfig) -> _TrainingData:
    from pipeline.dataset import build_arrays, encode_documents
    from pipeline.tokenizer import load_tokenizer

    train_docs, val_docs = _split(config)
    tokenizer = load_tokenizer(config.tokenizer_dir)
    block = config.model.n_positions
    enc_train = encode_documents(train_docs, tokenizer)
    enc_val = encode_documents(val_docs, tokenizer)
    train_arrays = build_arrays(enc_train, tokenizer, block)
    val_arrays = build_arrays(enc_val, tokenizer, block)
    log.info("windows: %d train, %d val", len(train_arrays[0]), len(val_arrays[0]))
    return _TrainingData(
        tokenizer, train_docs, val_docs, enc_train, enc_val, train_arrays, val_arrays
    )


def _train_seed_model(
    config: PipelineConfig,
    data: _TrainingData,
    max_minutes: float,
    max_steps: int | None,
) -> tuple[object, TrainResult]:
    """Build the seeded random GPT-2 and train it; returns (model, result)."""
    import tf_keras

    from pipeline.train import build_model, train_model

    tf_keras.utils.set_random_seed(config.train.seed)
    tokenizer = data.tokenizer
    model = build_model(config.model, len(tokenizer), tokenizer.eos_token_id)
    result = train_model(
        model, data.train_arrays, data.val_arrays, config.train, max_minutes, max_steps
    )
    return model, result


def _save_model(model, tokenizer, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))


def _write_model_metadata(
    config: PipelineConfig,
    data: _TrainingData,
    result: TrainResult,
    max_minutes: float,
    max_steps: int | None,
    command: str,
) -> None:
    from pipeline.metadata import build_metadata, write_metadata

    out = config.model_dir
    metadata = build_metadata(
        name=config.model_name,
        sources=_source_records(config),
        corpus=_corpus_record(config, data),
        config=_run_config(config, max_minutes, max_steps),
        result=dataclasses.asdict(result),
        weights_file=out / WEIGHTS_FILE,
        command=command,
    )
    write_metadata(metadata, out / "metadata.json")


def _corpus_record(config: PipelineConfig, data: _TrainingData) -> dict:
    """The extract stage's corpus statistics plus the split's sizes."""
    from pipeline.dataset import count_tokens

    stats_path = _corpus_stats_path(config)
    extracted = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    train_docs, val_docs = data.train_docs, data.val_docs
    return {
        **extracted,
        "train_documents": len(train_docs),
        "val_documents": len(val_docs),
        "train_paragraphs": sum(len(d.paragraphs) for d in train_docs),
        "val_paragraphs": sum(len(d.paragraphs) for d in val_docs),
        "train_tokens": count_tokens(data.enc_train),
        "val_tokens": count_tokens(data.enc_val),
        "train_windows": int(len(data.train_arrays[0])),
        "val_windows": int(len(data.val_arrays[0])),
        "per_source_paragraphs": _per_source(train_docs + val_docs),
    }


def _source_records(config: PipelineConfig) -> list[dict]:
    return [
        {
            "package": p.name,
            "version": p.version,
            "licence": p.licence,
            "pages": list(p.include),
        }
        for p in config.sources
    ]


def _run_config(
    config: PipelineConfig, max_minutes: float, max_steps: int | None
) -> dict:
    """The configuration for metadata.json: sources are recorded apart."""
    run_config = config.as_dict()
    run_config.pop("sources", None)
    run_config["max_minutes"] = max_minutes
    run_config["max_steps"] = max_steps
    return run_config


def _per_source(docs) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in docs:
        counts[doc.source] = counts.get(doc.source, 0) + len(doc.paragraphs)
    return counts


def stage_samples(config: PipelineConfig, force: bool) -> None:
    from pipeline.samples import write_samples

    path = config.model_dir / "SAMPLES.md"
    if path.exists() and not force:
        log.info("samples: %s exists, skipping", path)
        return
    write_samples(config.model_dir, path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = parse_args(argv)
    # Before any stage imports TensorFlow: oneDNN stays on (TensorFlow's
    # default), which the seed model has always been trained with.
    runtime.setup(onednn=True)
    argv_used = sys.argv[1:] if argv is None else argv
    command = "python -m pipeline " + shlex.join(argv_used)
    config = load_config(args.config, data_dir=args.data_dir, model_dir=args.model_dir)
    stages = [args.stage] if args.stage else list(STAGES)
    force = args.force or bool(args.stage)
    for stage in stages:
        log.info("== stage %s", stage)
        if stage == "train":
            stage_train(config, force, args.max_minutes, args.max_steps, command)
        else:
            globals()[f"stage_{stage}"](config, force)
    return 0
