"""metadata.json writing, configuration and SAMPLES.md rendering."""

import hashlib
import json
import math

from pipeline.config import DEFAULT_SOURCES, load_config
from pipeline.download import deb_filename_glob
from pipeline.metadata import build_metadata, perplexity, write_metadata
from pipeline.samples import SETTINGS, render_samples
from textgen.files import sha256_file


def _metadata(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights")
    return build_metadata(
        name="m",
        sources=[{"package": "p", "version": "1", "licence": "MIT"}],
        corpus={"paragraphs": 3},
        config={"n_layer": 4},
        result={"steps": 10, "train_loss": 2.0, "val_loss": math.log(110.0)},
        weights_file=weights,
        command="python -m pipeline train --max-minutes 25",
        versions={"python": "3.11"},
    )


def test_metadata_fields(tmp_path):
    meta = _metadata(tmp_path)
    assert meta["weights"] == {
        "file": "model.safetensors",
        "bytes": 7,
        "sha256": hashlib.sha256(b"weights").hexdigest(),
    }
    assert meta["training"]["val_perplexity"] == 110.0
    assert meta["training"]["train_perplexity"] == round(math.exp(2.0), 2)
    assert meta["command"] == "python -m pipeline train --max-minutes 25"
    assert meta["packages"] == {"python": "3.11"}


def test_write_metadata_is_valid_json(tmp_path):
    path = write_metadata(_metadata(tmp_path), tmp_path / "metadata.json")
    assert json.loads(path.read_text())["sources"][0]["licence"] == "MIT"


def test_sha256_reads_in_chunks(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"a" * 1000)
    assert sha256_file(path, chunk=7) == hashlib.sha256(b"a" * 1000).hexdigest()


def test_perplexity_overflow():
    assert perplexity(1e6) == float("inf")


def test_config_overrides_and_json(tmp_path):
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(
        json.dumps({"train": {"batch_size": 8}, "model": {"n_layer": 2}})
    )
    cfg = load_config(cfg_file, data_dir=tmp_path, model_dir=None)
    assert cfg.train.batch_size == 8 and cfg.model.n_layer == 2
    assert cfg.raw_dir == tmp_path / "raw" and cfg.sources == DEFAULT_SOURCES
    assert json.loads(json.dumps(cfg.as_dict()))["model"]["n_layer"] == 2


def test_sources_are_pinned_exactly():
    for pkg in DEFAULT_SOURCES:
        assert pkg.version and pkg.licence and pkg.include
        assert "*" not in pkg.version
    assert deb_filename_glob(DEFAULT_SOURCES[0]) == "debian-reference-en_2.100_*.deb"


def test_render_samples():
    text = render_samples([("The Debian project", " is free.")], "model.generate")
    assert "**The Debian project** is free." in text
    assert "num_beams=5" in text and SETTINGS["max_length"] == 100
