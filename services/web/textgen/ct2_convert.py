"""Converting a GPT-2 checkpoint into a CTranslate2 model, with numpy only.

No PyTorch anywhere: `convert` reads the TF (or PyTorch-layout) weights with
safetensors.numpy / h5py and fills ctranslate2's TransformerDecoderModelSpec
the way ctranslate2's own GPT2Loader (converters/transformers.py) does, with
numpy arrays instead of torch modules.  ct2_run.CT2Runner generates with the
converted directory; backends.converted_copy keeps one beside each model.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .files import sha256_file
from .loading import ModelLoadError, read_config, weights_file

TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
# config.json "activation_function" -> ctranslate2 Activation name (the same
# table as ctranslate2.converters.transformers._SUPPORTED_ACTIVATIONS).
_ACTIVATIONS = {
    "gelu": "GELU",
    "gelu_python": "GELU",
    "gelu_new": "GELUTanh",
    "gelu_fast": "GELUTanh",
    "gelu_pytorch_tanh": "GELUTanh",
    "quick_gelu": "GELUSigmoid",
    "relu": "RELU",
    "silu": "SWISH",
    "swish": "SWISH",
}


# --------------------------------------------------------------------------
# Reading the checkpoint
# --------------------------------------------------------------------------


def _canonical_name(name: str) -> str | None:
    """One spelling for TF and PyTorch weight names, or None for non-weights.

    TF:      [transformer/tfgpt2lm_head_model/]transformer/h_._0/ln_1/gamma:0
    PyTorch: [transformer.]h.0.ln_1.weight
    both become  h.0.ln_1.weight ; embeddings become wte.weight / wpe.weight.
    """
    name = re.sub(r":\d+$", "", name).replace("/", ".")
    if name.startswith("lm_head."):
        return name
    match = re.search(r"(?:^|\.)((?:h_?\.?_?\d+|wte|wpe|ln_f)(?:\..*)?)$", name)
    if not match:
        return None
    name = match.group(1)
    name = re.sub(r"^h_\._(\d+)", r"h.\1", name)
    name = re.sub(r"\.embeddings$", ".weight", name)
    name = re.sub(r"\.gamma$", ".weight", name)
    name = re.sub(r"\.beta$", ".bias", name)
    # PyTorch GPT-2 buffers (causal mask), not weights.
    if name.endswith((".attn.bias", ".attn.masked_bias")):
        return None
    return name


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors or Keras h5 file, canonical names, float32."""
    raw: dict[str, np.ndarray] = {}
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        raw = load_file(str(path))
    else:
        import h5py

        with h5py.File(path, "r") as handle:

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    raw[name] = obj[()]

            handle.visititems(visit)
    weights = {}
    for name, value in raw.items():
        key = _canonical_name(name)
        if key is None:
            continue
        if key in weights:
            raise ModelLoadError(f"weight {key} appears twice in {path}")
        weights[key] = np.asarray(value, dtype=np.float32)
    return weights


def _take(weights: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    try:
        return weights.pop(key)
    except KeyError:
        raise ModelLoadError(f"weight {key} is missing in {path}") from None


def _read_tokens(model_dir: Path, vocab_size: int) -> list[str]:
    """The vocabulary in id order (tokenizer.json, else vocab.json)."""
    vocab: dict[str, int]
    if (model_dir / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        vocab = tokenizer.get_vocab(with_added_tokens=True)
    elif (model_dir / "vocab.json").is_file():
        vocab = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))
        added = model_dir / "added_tokens.json"
        if added.is_file():
            vocab.update(json.loads(added.read_text(encoding="utf-8")))
    else:
        raise ModelLoadError(f"no tokenizer.json or vocab.json in {model_dir}")
    by_id = {index: token for token, index in vocab.items()}
    if len(by_id) != len(vocab) or max(by_id) >= vocab_size:
        raise ModelLoadError(
            f"the vocabulary of {model_dir} does not fit the model "
            f"({len(vocab)} tokens, vocab_size {vocab_size})"
        )
    # An embedding matrix larger than the tokenizer (padded vocab_size) gets
    # placeholder tokens: never produced by the tokenizer, unique for ct2.
    return [by_id.get(i, f"<|ct2_unused_{i}|>") for i in range(vocab_size)]


# --------------------------------------------------------------------------
# Building the ctranslate2 spec
# --------------------------------------------------------------------------


def _linear(spec, weights, prefix: str, path: Path) -> None:
    """GPT-2's Conv1D stores [in, out]; ct2 (like torch Linear) wants [out, in]."""
    spec.weight = np.ascontiguousarray(_take(weights, f"{prefix}.weight", path).T)
    spec.bias = _take(weights, f"{prefix}.bias", path).reshape(-1)


def _layer_norm(spec, weights, prefix: str, path: Path) -> None:
    spec.gamma = _take(weights, f"{prefix}.weight", path).reshape(-1)
    spec.beta = _take(weights, f"{prefix}.bias", path).reshape(-1)


def build_spec(model_dir, weights: dict[str, np.ndarray] | None = None):
    """The ctranslate2 TransformerDecoderModelSpec of a GPT-2 directory.

    Mirrors ctranslate2.converters.transformers.GPT2Loader: pre-norm decoder,
    fused qkv (c_attn) as self_attention.linear[0], learned position
    encodings (wpe), final layer norm, unscaled embeddings and an output
    projection tied to the token embedding (wte).
    """
    from ctranslate2.specs import common_spec, transformer_spec

    model_dir = Path(model_dir)
    config = read_config(model_dir)
    path = weights_file(model_dir)
    if weights is None:
        weights = _read_weights(path)
    weights = dict(weights)
    activation = config.get("activation_function", "gelu_new")
    if activation not in _ACTIVATIONS:
        raise ModelLoadError(f"activation {activation!r} is not supported by ct2")
    # Variants ct2's decoder cannot express: refuse rather than convert wrongly.
    if config.get("scale_attn_by_inverse_layer_idx") or not config.get(
        "scale_attn_weights", True
    ):
        raise ModelLoadError(f"{model_dir}: attention scaling variant not supported")

    spec = transformer_spec.TransformerDecoderModelSpec.from_config(
        config["n_layer"],
        config["n_head"],
        pre_norm=True,
        activation=getattr(common_spec.Activation, _ACTIVATIONS[activation]),
    )
    spec.config.layer_norm_epsilon = float(config.get("layer_norm_epsilon", 1e-5))
    decoder = spec.decoder
    decoder.scale_embeddings = False
    wte = _take(weights, "wte.weight", path)
    decoder.embeddings.weight = wte
    decoder.position_encodings.encodings = _take(weights, "wpe.weight", path)
    _layer_norm(decoder.layer_norm, weights, "ln_f", path)
    for i, layer in enumerate(decoder.layer):
        prefix = f"h.{i}"
        _layer_norm(layer.self_attention.layer_norm, weights, f"{prefix}.ln_1", path)
        _linear(layer.self_attention.linear[0], weights, f"{prefix}.attn.c_attn", path)
        _linear(layer.self_attention.linear[1], weights, f"{prefix}.attn.c_proj", path)
        _layer_norm(layer.ffn.layer_norm, weights, f"{prefix}.ln_2", path)
        _linear(layer.ffn.linear_0, weights, f"{prefix}.mlp.c_fc", path)
        _linear(layer.ffn.linear_1, weights, f"{prefix}.mlp.c_proj", path)
    # GPT-2's head is tied to wte and has no bias; a checkpoint that stores
    # lm_head.weight explicitly (PyTorch) holds the same matrix.
    head = weights.pop("lm_head.weight", wte)
    decoder.projection.weight = head
    leftover = sorted(weights)
    if leftover:
        raise ModelLoadError(f"unexpected weights in {path}: {leftover[:5]}")

    vocab_size = int(config.get("vocab_size", wte.shape[0]))
    if wte.shape[0] != vocab_size:
        raise ModelLoadError(
            f"wte has {wte.shape[0]} rows but config.vocab_size is {vocab_size}"
        )
    tokens = _read_tokens(model_dir, vocab_size)
    eos_id = config.get("eos_token_id")
    if not isinstance(eos_id, int) or not 0 <= eos_id < vocab_size:
        raise ModelLoadError(f"{model_dir}: config.json has no usable eos_token_id")
    eos = tokens[eos_id]  # "<|endoftext|>" for GPT-2
    spec.config.bos_token = eos
    spec.config.eos_token = eos
    spec.config.unk_token = eos
    spec.register_vocabulary(tokens)
    return spec


def _source_name(model_dir: Path) -> str:
    try:
        return json.loads((model_dir / "metadata.json").read_text())["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return model_dir.resolve().name


def convert(
    model_dir, out_dir, quantization: str | None = None, *, force: bool = False
) -> Path:
    """Convert a GPT-2 directory into a ctranslate2 model directory `out_dir`.

    `quantization` is ct2's weight type (None keeps float32; "int8",
    "float16", "int8_float16", ...).  Tokenizer files are copied next to the
    model and metadata.json records the source (name, weights sha256).  The
    directory is written aside and renamed into place, so a failed conversion
    leaves nothing half-written; an existing `out_dir` needs `force`.
    """
    model_dir = Path(model_dir)
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise FileExistsError(f"{out_dir} already exists (force=True replaces it)")
    config = read_config(model_dir)
    source_weights = weights_file(model_dir)
    spec = build_spec(model_dir)
    spec.validate()
    spec.optimize(quantization=quantization)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        spec.save(str(staging))  # model.bin, config.json (ct2's), vocabulary.json
        for name in TOKENIZER_FILES:
            if (model_dir / name).is_file():
                shutil.copyfile(model_dir / name, staging / name)
        metadata = {
            "name": _source_name(model_dir),
            "source_weights_sha256": sha256_file(source_weights),
            "source_weights_file": source_weights.name,
            "format": "ctranslate2",
            "quantization": quantization or "float32",
            "n_positions": config.get("n_positions"),
        }
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir
