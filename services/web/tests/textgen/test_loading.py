"""Loading: directories, corrupt models, hub ids with the network absent."""

import hashlib
import json
import shutil
import time

import huggingface_hub.constants
import pytest

from textgen import ModelLoadError, loading, resolve_model_reference
from textgen.__main__ import main as cli_main

UNROUTABLE = "http://10.255.255.1"  # packets are dropped: a hanging network


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """An empty hub cache and a hub that never answers (1 s probe timeout)."""
    monkeypatch.setattr(
        huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub")
    )
    monkeypatch.setenv("HF_ENDPOINT", UNROUTABLE)
    monkeypatch.setenv("TEXTGEN_NETWORK_TIMEOUT", "1")
    monkeypatch.delenv("TEXTGEN_MODEL", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "hub"


def _copy(src, tmp_path, name="model"):
    return shutil.copytree(src, tmp_path / name)


def test_loads_a_directory_and_reports_what_it_loaded(tiny_model_dir):
    tokenizer, model, info = loading.load(str(tiny_model_dir))
    weights = (tiny_model_dir / "tf_model.h5").read_bytes()
    assert info.weights_sha256 == hashlib.sha256(weights).hexdigest()
    assert info.vocab_size == len(tokenizer) == model.config.vocab_size
    assert info.n_parameters == model.count_params() > 0
    assert info.name == tiny_model_dir.name
    assert json.dumps(info.as_dict())


def test_missing_directory_is_one_clear_line(tmp_path):
    with pytest.raises(ModelLoadError, match="not found") as error:
        loading.load(str(tmp_path / "nowhere"))
    assert "\n" not in str(error.value)


def test_corrupt_weights_fail_with_one_line(tiny_model_dir, tmp_path):
    directory = _copy(tiny_model_dir, tmp_path)
    (directory / "tf_model.h5").write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.raises(ModelLoadError, match="cannot load the weights") as error:
        loading.load(str(directory))
    assert "\n" not in str(error.value)


def test_missing_weights_fail(tiny_model_dir, tmp_path):
    directory = _copy(tiny_model_dir, tmp_path)
    (directory / "tf_model.h5").unlink()
    with pytest.raises(ModelLoadError, match="no weights"):
        loading.load(str(directory))


def test_a_model_that_is_not_gpt2_is_refused(tiny_model_dir, tmp_path):
    directory = _copy(tiny_model_dir, tmp_path)
    config = json.loads((directory / "config.json").read_text())
    config["model_type"] = "bert"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="not a GPT-2"):
        loading.load(str(directory))


def test_the_reference_given_wins_and_the_environment_is_not_read(
    no_network, monkeypatch
):
    # TEXTGEN_MODEL is the app's setting (docdraft.config), passed in.
    monkeypatch.setenv("TEXTGEN_MODEL", "distilgpt2")
    assert resolve_model_reference("some/dir") == "some/dir"
    assert resolve_model_reference(None) == str(loading.SEED_MODEL_DIR)


def test_network_absent_falls_back_to_the_seed_model_in_seconds(no_network, caplog):
    start = time.monotonic()
    reference = resolve_model_reference(None)
    assert time.monotonic() - start < 5
    assert reference == str(loading.SEED_MODEL_DIR)
    assert loading.SEED_MODEL_DIR.is_absolute()
    assert "seed model" in caplog.text


def test_hub_id_not_cached_fails_fast_without_network(no_network):
    start = time.monotonic()
    with pytest.raises(ModelLoadError, match="unreachable"):
        loading.load("distilgpt2")
    assert time.monotonic() - start < 5


def _fake_cache(cache, repo_id, source):
    """Lay out `source` in the hub cache as huggingface_hub would."""
    repo = cache / f"models--{repo_id}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    shutil.copytree(source, repo / "snapshots" / ("0" * 40))


def test_cached_hub_id_resolves_and_loads_without_network(no_network, tiny_model_dir):
    _fake_cache(no_network, "gpt2", tiny_model_dir)
    start = time.monotonic()
    assert resolve_model_reference(None) == "gpt2"
    _, _, info = loading.load("gpt2")
    assert time.monotonic() - start < 10
    assert info.name == info.reference == "gpt2"


def test_cli_download_saves_a_loadable_copy(tiny_model_dir, tmp_path):
    out = tmp_path / "models" / "hub" / "tiny"
    assert cli_main(["download", str(tiny_model_dir), "--out", str(out)]) == 0
    _, _, info = loading.load(str(out))
    assert info.name == tiny_model_dir.name  # kept through metadata.json
    assert cli_main(["download", str(tmp_path / "nowhere"), "--out", str(out)]) == 2


@pytest.fixture
def local_hub(monkeypatch, tmp_path):
    """A local HTTP server standing in for a reachable hub."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(
        huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub")
    )
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("TEXTGEN_MODEL", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield
    server.shutdown()


def test_gpt2_is_chosen_when_the_hub_answers(local_hub):
    assert resolve_model_reference(None) == "gpt2"


def test_offline_flag_skips_the_network(local_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_reference(None) == str(loading.SEED_MODEL_DIR)
