"""Command line: `python -m textgen download MODEL --out DIR` and `check MODEL`.

download: fetch a hub model (or copy a local one), validate it by loading it,
and save it with save_pretrained so the worker can run offline from DIR,
with its CTranslate2 copy in DIR/ctranslate2 (numpy only, no PyTorch).
check: compare the fast path with eager generate on 20 fixed prompts
(--original: with the original's settings, against its own call).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import loading, runtime
from .loading import ModelLoadError


def download(reference: str, out: Path) -> Path:
    """Load `reference` (hub id or directory) and save it into `out`."""
    tokenizer, model, info = loading.load(reference)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # The name survives the copy: loading reads it back from metadata.json.
    metadata = {"name": info.name, "source": reference}
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    # The CTranslate2 copy beside it, for TEXTGEN_BACKEND=ctranslate2.
    from .backends import converted_copy

    converted_copy(out)
    return out


def check(reference: str, original: bool = False) -> int:
    """Print the fast-versus-eager comparison; exit status 1 on any difference.

    With `original`, the engine runs the original's settings and is compared
    with the original's own eager call (textgen.eager.original_generate_ids).
    """
    from .engine import Generator
    from .equivalence import FIXED_PROMPTS, compare
    from .settings import GenerationSettings

    settings = GenerationSettings.original() if original else None
    generator = Generator.load(reference, settings, warmup=False)
    differences = compare(generator, original=original)
    print(f"{len(FIXED_PROMPTS) - len(differences)}/{len(FIXED_PROMPTS)} prompts equal")
    for diff in differences:
        print(f"DIFF at new token {diff.first_diff}: {diff.prompt!r}")
    return 1 if differences else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m textgen")
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("download", help="download and save a GPT-2 model")
    get.add_argument(
        "model", help="hub id (gpt2, distilgpt2, gpt2-medium) or directory"
    )
    get.add_argument("--out", type=Path, help="target directory (models/hub/MODEL)")
    cmp_ = commands.add_parser("check", help="fast path versus eager on 20 prompts")
    cmp_.add_argument(
        "model", nargs="?", help="model reference (default: gpt2, else the seed model)"
    )
    cmp_.add_argument(
        "--original",
        action="store_true",
        help="the original's settings, against its own eager generate call",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    runtime.setup()  # both commands load TensorFlow
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        if args.command == "download":
            out = args.out or Path("models") / "hub" / Path(args.model).name
            print(f"saved {args.model} to {download(args.model, out)}")
            return 0
        return check(loading.resolve_model_reference(args.model), args.original)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
