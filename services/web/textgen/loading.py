"""Resolve a model reference and load tokenizer + TF GPT-2 exactly once.

Every failure (missing directory, corrupt weights, not a GPT-2, hub
unreachable) becomes a ModelLoadError whose message is one clear line, so the
worker fails at start instead of printing a traceback in every job.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from . import hub
from .files import sha256_file  # also re-exported: textgen.loading.sha256_file

log = logging.getLogger("textgen")

DEFAULT_HUB_MODEL = "gpt2"
# Relative to this package, not to the working directory.
SEED_MODEL_DIR = (
    Path(__file__).resolve().parent.parent
    / "models"
    / "seedmodels"
    / ("debian-docs-gpt2")
)


class ModelLoadError(RuntimeError):
    """The model cannot be loaded; str(error) is one line meant for the operator."""


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded; every autodoc records it."""

    name: str
    reference: str
    n_parameters: int
    vocab_size: int
    weights_sha256: str

    def as_dict(self) -> dict:
        return asdict(self)


def resolve_model_reference(reference: str | None = None) -> str:
    """Pick the model: the reference given, else gpt2, else the seed model.

    The caller passes what its configuration names (the app: TEXTGEN_MODEL,
    read by docdraft.config).  gpt2 is chosen when it is in the local hub
    cache or the hub answers within a few seconds; otherwise the bundled
    seed model, with a log line saying so.
    """
    reference = str(reference or "").strip()
    if reference:
        return reference
    if hub.cached_snapshot(DEFAULT_HUB_MODEL) is not None:
        log.info("model: %s (found in the local hub cache)", DEFAULT_HUB_MODEL)
        return DEFAULT_HUB_MODEL
    if hub.hub_reachable(DEFAULT_HUB_MODEL):
        log.info("model: %s (will be downloaded from the hub)", DEFAULT_HUB_MODEL)
        return DEFAULT_HUB_MODEL
    log.warning(
        "%s is not cached and the hub is unreachable: using the bundled seed model %s",
        DEFAULT_HUB_MODEL,
        SEED_MODEL_DIR,
    )
    return str(SEED_MODEL_DIR)


def _looks_like_path(reference: str) -> bool:
    """A path rather than a hub id: explicit prefix, or first component exists.

    Hub ids may contain a slash ("openai-community/gpt2"), so a slash alone
    does not make a path; "models/hub/gpt2" does when "models" is a directory.
    """
    if reference.startswith((".", "/", "~")):
        return True
    parts = Path(reference).parts
    return len(parts) > 1 and Path(parts[0]).is_dir()


def locate(reference: str) -> Path:
    """The local directory holding `reference` (downloading a hub id if needed)."""
    path = Path(reference).expanduser()
    if path.is_dir():
        return path
    if _looks_like_path(reference) or path.exists():
        raise ModelLoadError(f"model directory not found: {reference}")
    snapshot = hub.cached_snapshot(reference)
    if snapshot is not None:
        return snapshot
    if not hub.hub_reachable(reference):
        raise ModelLoadError(
            f"model {reference!r} is neither a directory nor in the local hub cache, "
            "and the hub is unreachable"
        )
    try:
        return hub.download_snapshot(reference)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot download {reference!r}: {_one_line(exc)}"
        ) from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def read_config(directory: Path) -> dict:
    """config.json of a GPT-2; anything else is a ModelLoadError."""
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"no readable config.json in {directory}: {_one_line(exc)}"
        ) from exc
    if config.get("model_type") != "gpt2":
        kind = config.get("model_type")
        raise ModelLoadError(f"{directory} is not a GPT-2 model (model_type={kind!r})")
    return config


def weights_file(directory: Path) -> Path:
    """The weights file that from_pretrained will read (same priority order)."""
    for name in hub.WEIGHT_FILES:
        if (directory / name).is_file():
            return directory / name
    raise ModelLoadError(
        f"no weights (model.safetensors or tf_model.h5) in {directory}"
    )


def model_name(reference: str, directory: Path) -> str:
    """Hub id, or the `name` in a seed model's metadata.json, or the directory name."""
    if not Path(reference).expanduser().is_dir():
        return reference
    try:
        return json.loads((directory / "metadata.json").read_text())["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return directory.resolve().name


def _load_tokenizer(directory: Path):
    from transformers import GPT2TokenizerFast

    try:
        return GPT2TokenizerFast.from_pretrained(directory)  # nosec B615
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load the tokenizer in {directory}: {_one_line(exc)}"
        ) from exc


def _load_model(directory: Path):
    from transformers import TFGPT2LMHeadModel

    try:
        model, info = TFGPT2LMHeadModel.from_pretrained(  # nosec B615
            directory, output_loading_info=True
        )
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load the weights in {directory}: {_one_line(exc)}"
        ) from exc
    # A partial checkpoint would silently leave random layers: refuse it.
    missing = info.get("missing_keys") or []
    mismatched = info.get("mismatched_keys") or []
    if missing or mismatched:
        raise ModelLoadError(
            f"incomplete weights in {directory}: "
            f"{len(missing)} missing, {len(mismatched)} mismatched tensors"
        )
    return model


def load(reference: str):
    """Load (tokenizer, model, ModelInfo) for a resolved reference."""
    directory = locate(reference)
    read_config(directory)
    weights = weights_file(directory)
    tokenizer = _load_tokenizer(directory)
    model = _load_model(directory)
    info = ModelInfo(
        name=model_name(reference, directory),
        reference=reference,
        n_parameters=int(model.count_params()),
        vocab_size=int(model.config.vocab_size),
        weights_sha256=sha256_file(weights),
    )
    log.info(
        "loaded %s: %d parameters, vocabulary %d, weights sha256 %s",
        info.name,
        info.n_parameters,
        info.vocab_size,
        info.weights_sha256[:12],
    )
    return tokenizer, model, info
