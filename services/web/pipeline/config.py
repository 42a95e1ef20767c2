"""Pipeline configuration: pinned sources, paths and hyper-parameters.

Everything that influences the result lives here so that a rebuild with the same
config (and the pinned package versions) is reproducible. Paths are relative to
the working directory (``services/web``) unless given absolute.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourcePackage:
    """A Debian documentation package pinned to an exact version."""

    name: str
    version: str
    licence: str
    # Globs (relative to the unpacked tree) of the English HTML pages to read;
    # other languages, indexes and single-page duplicates are left out so each
    # text enters the corpus once and the corpus stays English.
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()


# Pinned on Debian 12 (bookworm). Licences are from each package's
# /usr/share/doc/<pkg>/copyright file.
DEFAULT_SOURCES: tuple[SourcePackage, ...] = (
    SourcePackage(
        "debian-reference-en",
        "2.100",
        "GPL-2.0-or-later",
        ("usr/share/debian-reference/*.en.html",),
        # index.en.html is the table of contents.
        ("usr/share/debian-reference/index.en.html",),
    ),
    SourcePackage(
        "debian-handbook",
        "11.20220922",
        "GPL-2.0-or-later OR CC-BY-SA-3.0",
        ("usr/share/doc/debian-handbook/html/en-US/*.html",),
        ("usr/share/doc/debian-handbook/html/en-US/index.html",),
    ),
    SourcePackage(
        "maint-guide",
        "1.2.53",
        "GPL-2.0-or-later",
        ("usr/share/doc/maint-guide/html/*.en.html",),
        ("usr/share/doc/maint-guide/html/index.en.html",),
    ),
    SourcePackage(
        "developers-reference",
        "12.18",
        "GPL-2",
        ("usr/share/developers-reference/*.html",),
        # developers-reference.html repeats the whole book on one page.
        tuple(
            f"usr/share/developers-reference/{n}.html"
            for n in ("index", "search", "genindex", "developers-reference")
        ),
    ),
    SourcePackage(
        "debian-policy",
        "4.6.2.0",
        "GPL-2.0-or-later",
        ("usr/share/doc/debian-policy/policy.html/*.html",),
        tuple(
            f"usr/share/doc/debian-policy/policy.html/{n}.html"
            for n in ("index", "search", "genindex")
        ),
    ),
    SourcePackage(
        "debian-faq",
        "11.1",
        "Debian-FAQ-permissive (verbatim copying and modified versions allowed)",
        ("usr/share/doc/debian/FAQ/*.en.html",),
        ("usr/share/doc/debian/FAQ/index.en.html",),
    ),
    SourcePackage(
        "python3.11-doc",
        "3.11.2-6+deb12u8",
        "PSF-2.0",
        # Prose-heavy parts only: the library and C-API references are mostly
        # signatures and code, and would swamp the Debian text.
        tuple(
            f"usr/share/doc/python3.11/html/{d}/*.html"
            for d in ("tutorial", "howto", "faq", "using", "reference", "extending")
        ),
        (
            "usr/share/doc/python3.11/html/*/index.html",
            "usr/share/doc/python3.11/html/reference/grammar.html",
        ),
    ),
)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the GPT-2 and of the tokenizer."""

    vocab_size: int = 8000
    n_positions: int = 256
    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 4
    dropout: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the step budget is derived from ``max_minutes``."""

    seed: int = 1234
    batch_size: int = 16
    learning_rate: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    val_fraction: float = 0.05
    # Steps timed before the step budget is fixed (after compilation).
    timing_steps: int = 20
    # Validation batches used for the periodic and the final evaluation.
    eval_batches: int = 40
    eval_every_seconds: float = 180.0
    jit_compile: bool = False


@dataclass(frozen=True)
class PipelineConfig:
    """Top-level configuration: where things live and what gets built."""

    data_dir: Path = Path("data")
    model_dir: Path = Path("models/seedmodels/debian-docs-gpt2")
    model_name: str = "debian-docs-gpt2"
    sources: tuple[SourcePackage, ...] = DEFAULT_SOURCES
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # Paragraph filters (see pipeline.extract).
    min_paragraph_chars: int = 40
    min_paragraph_words: int = 6

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def processed_dir(self) -> Path:
        return self.data_dir / "processed"

    @property
    def paragraphs_path(self) -> Path:
        return self.processed_dir / "documents.jsonl"

    @property
    def tokenizer_dir(self) -> Path:
        return self.processed_dir / "tokenizer"

    @property
    def checkpoint_dir(self) -> Path:
        return self.processed_dir / "checkpoint"

    def as_dict(self) -> dict:
        """JSON-able view (paths as strings) for metadata.json."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def load_config(path: Path | None = None, **overrides) -> PipelineConfig:
    """Build a config from defaults, an optional JSON file, then keyword overrides.

    The JSON file may hold top-level keys plus ``model`` / ``train`` sub-objects;
    ``sources`` is deliberately not overridable from JSON so pins stay in code.
    """
    data: dict = {}
    if path is not None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    model = ModelConfig(**data.pop("model", {}))
    train = TrainConfig(**data.pop("train", {}))
    for key in ("data_dir", "model_dir"):
        if key in data:
            data[key] = Path(data[key])
    data.pop("sources", None)
    config = PipelineConfig(model=model, train=train, **data)
    return dataclasses.replace(
        config, **{k: v for k, v in overrides.items() if v is not None}
    )
