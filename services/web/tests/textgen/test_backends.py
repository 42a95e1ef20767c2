"""TEXTGEN_BACKEND: both engines behind one interface, on the tiny and seed models."""

import shutil

import pytest

from textgen import GenerationSettings, ModelLoadError, load_generator
from textgen.backends import CT2_DIRECTORY, gpt2_parameter_count
from textgen.loading import SEED_MODEL_DIR, read_config
from textgen.settings import Request

from .conftest import TEST_SETTINGS

PROMPTS = ["The package manager", "man apt", "To configure the network, edit"]


@pytest.fixture(scope="module")
def model_copy(tiny_model_dir, tmp_path_factory):
    """A private copy: the CTranslate2 conversion writes beside the weights."""
    target = tmp_path_factory.mktemp("backend") / "tiny"
    shutil.copytree(tiny_model_dir, target)
    return target


@pytest.fixture(scope="module")
def both(model_copy):
    tf = load_generator(str(model_copy), TEST_SETTINGS, "tf", warmup=False)
    ct2 = load_generator(
        str(model_copy), TEST_SETTINGS, "ctranslate2", compute_type="float32"
    )
    return tf, ct2


def test_both_backends_share_interface_and_model_identity(both, model_copy):
    tf, ct2 = both
    assert (model_copy / CT2_DIRECTORY / "model.bin").is_file()
    assert tf.info.weights_sha256 == ct2.info.weights_sha256
    assert tf.info.n_parameters == ct2.info.n_parameters
    assert tf.info.name == ct2.info.name
    for prompt in PROMPTS:
        assert tf.prepare(prompt, 20) == ct2.prepare(prompt, 20)


def test_greedy_tokens_are_equal_on_both_backends(model_copy):
    settings = GenerationSettings(
        max_new_tokens=12,
        longest=12,
        num_beams=1,
        min_new_tokens=3,
        length_buckets=(8, 16),
    )
    tf = load_generator(str(model_copy), settings, "tf", warmup=False)
    ct2 = load_generator(
        str(model_copy), settings, "ctranslate2", compute_type="float32"
    )
    assert tf.generate_ids(PROMPTS) == ct2.generate_ids(PROMPTS)


def test_ct2_backend_honours_lengths_modes_and_seeds(both):
    _, ct2 = both
    short, long_ = ct2.generate_ids(
        [Request(PROMPTS[0], new_tokens=4), Request(PROMPTS[0], new_tokens=30)]
    )
    assert len(short) <= 4 and len(long_) <= 30
    first = ct2.generate([Request(PROMPTS[1], mode="sample", seed=3)])
    again = ct2.generate([Request(PROMPTS[1], mode="sample", seed=3)])
    assert first == again and first[0]


@pytest.mark.skipif(not (SEED_MODEL_DIR / "config.json").is_file(), reason="no seed")
def test_seed_model_runs_on_ctranslate2_int8(tmp_path):
    target = tmp_path / "seed"
    shutil.copytree(
        SEED_MODEL_DIR, target, ignore=shutil.ignore_patterns(CT2_DIRECTORY)
    )
    generator = load_generator(str(target), backend="ctranslate2")
    assert generator.runner.compute_type == "int8"
    assert generator.info.n_parameters == gpt2_parameter_count(read_config(target))
    texts = generator.generate(["How to install a package with apt"])
    assert texts[0].strip()


def test_an_unknown_backend_is_one_clear_error(model_copy):
    with pytest.raises(ModelLoadError, match="TEXTGEN_BACKEND"):
        load_generator(str(model_copy), backend="pytorch")


def test_a_ctranslate2_worker_never_imports_tensorflow(model_copy):
    """A CTranslate2 worker (or a GPU machine without TF) loads and generates
    without TensorFlow: textgen imports the TF engine on first use only."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from textgen import load_generator\n"
        "from textgen.equivalence import FIXED_PROMPTS\n"
        f"gen = load_generator({str(model_copy)!r}, backend='ctranslate2')\n"
        "assert gen.generate(FIXED_PROMPTS[:2])\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
