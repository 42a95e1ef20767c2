"""metadata.json for the trained model: provenance, corpus, config and results."""

from __future__ import annotations

import importlib.metadata
import json
import math
import platform
from pathlib import Path

PACKAGES = (
    "tensorflow",
    "tensorflow-cpu",
    "tf-keras",
    "transformers",
    "tokenizers",
    "safetensors",
    "numpy",
)


def package_versions(names=PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the result (absent: skipped)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def perplexity(loss: float) -> float:
    """exp(loss), rounded, or inf where that overflows."""
    try:
        return round(math.exp(loss), 2)
    except OverflowError:
        return float("inf")


def build_metadata(
    *,
    name: str,
    sources: list[dict],
    corpus: dict,
    config: dict,
    result: dict,
    weights_file: Path,
    command: str,
    versions: dict[str, str] | None = None,
) -> dict:
    """Assemble the metadata dict (pure apart from hashing ``weights_file``)."""
    from textgen.files import sha256_file

    return {
        "name": name,
        "description": (
            "Small GPT-2 trained from scratch on English prose from Debian "
            "documentation packages (and prose parts of the Python docs)."
        ),
        "sources": sources,
        "corpus": corpus,
        "config": config,
        "training": {
            **result,
            "train_perplexity": perplexity(result["train_loss"]),
            "val_perplexity": perplexity(result["val_loss"]),
        },
        "weights": {
            "file": weights_file.name,
            "bytes": weights_file.stat().st_size,
            "sha256": sha256_file(weights_file),
        },
        "packages": versions if versions is not None else package_versions(),
        "command": command,
    }


def write_metadata(metadata: dict, path: Path) -> Path:
    """Write ``metadata`` as stable, human-readable JSON."""
    path.write_text(
        json.dumps(metadata, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    return path
