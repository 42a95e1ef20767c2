"""The runtime set-up is explicit, and the engine's settings have one reader.

Importing textgen changes nothing; textgen.runtime.setup() sets TensorFlow's
environment; TEXTGEN_MODEL and TEXTGEN_BACKEND are read by docdraft.config
only; textgen.lengths (what the web processes import) loads nothing heavy.
Each import check runs in a clean subprocess: this one has imported all.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2]
TEXTGEN = WEB / "textgen"
# Set by the engine's runtime; a clean process must start without them.
RUNTIME_VARIABLES = (
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_XLA_FLAGS",
    "TEXTGEN_XLA_CACHE",
)


def run_clean(script, **env):
    """Run `script` in a fresh interpreter with a minimal environment; its
    last stdout line, parsed as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=WEB,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_textgen_leaves_the_environment_unchanged():
    script = (
        "import json, os, sys\n"
        "before = dict(os.environ)\n"
        "import textgen, textgen.backends, textgen.loading, textgen.settings\n"
        "import textgen.lengths, textgen.runtime, textgen.ct2\n"
        "from textgen import load_generator, resolve_model_reference\n"
        "print(json.dumps({'changed': sorted(set(os.environ.items()) ^ "
        "set(before.items())), 'tensorflow': 'tensorflow' in sys.modules}))\n"
    )
    result = run_clean(script, TEXTGEN_XLA_CACHE="")
    assert result == {"changed": [], "tensorflow": False}


def test_setup_sets_tensorflows_environment_once(tmp_path):
    cache = tmp_path / "xla"
    script = (
        "import json, os\n"
        "from textgen import runtime\n"
        "first = runtime.setup()\n"
        "again = runtime.setup()\n"
        "print(json.dumps({'first': first, 'again': again}))\n"
    )
    result = run_clean(script, TEXTGEN_XLA_CACHE=str(cache))
    expected = {
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_XLA_FLAGS": f"--tf_xla_persistent_cache_directory={cache}",
    }
    assert result == {"first": expected, "again": expected}
    assert cache.is_dir()


def test_setup_keeps_what_the_operator_set_and_onednn_for_training():
    script = (
        "import json\n"
        "from textgen import runtime\n"
        "print(json.dumps(runtime.setup(onednn=True)))\n"
    )
    result = run_clean(script, TF_CPP_MIN_LOG_LEVEL="0", TF_XLA_FLAGS="--x=1")
    assert result == {
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "0",
        "TF_XLA_FLAGS": "--x=1",
    }


@pytest.mark.parametrize(
    "before, warning",
    [
        ("import tensorflow", "TensorFlow was imported before"),
        ("runtime.setup(onednn=True)", "already set up with onednn=True"),
    ],
)
def test_setup_says_when_its_settings_cannot_take_effect(before, warning):
    script = (
        "import json, logging, io\n"
        "from textgen import runtime\n"
        "stream = io.StringIO()\n"
        "logging.getLogger('textgen').addHandler(logging.StreamHandler(stream))\n"
        f"{before}\n"
        "runtime.setup()\n"
        "print(json.dumps(stream.getvalue()))\n"
    )
    assert warning in run_clean(script)


def test_the_web_vocabulary_loads_nothing_heavy():
    script = (
        "import json, sys\n"
        "import textgen.lengths\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "('textgen', 'tensorflow', 'transformers', 'numpy')))))\n"
    )
    assert run_clean(script) == ["textgen", "textgen.lengths"]


def test_textgen_never_reads_the_apps_model_settings():
    """TEXTGEN_MODEL and TEXTGEN_BACKEND come from docdraft.config only."""
    reads = re.compile(r"environ[^\n]*TEXTGEN_(MODEL|BACKEND)|getenv")
    offenders = [
        path.name for path in TEXTGEN.glob("*.py") if reads.search(path.read_text())
    ]
    assert offenders == []


def test_the_app_config_reads_the_model_settings(monkeypatch, tmp_path):
    from docdraft.config import load_config

    monkeypatch.setenv("TEXTGEN_MODEL", " distilgpt2 ")
    monkeypatch.setenv("TEXTGEN_BACKEND", "ctranslate2")
    config = load_config(tmp_path)
    assert config["TEXTGEN_MODEL"] == "distilgpt2"
    assert config["TEXTGEN_BACKEND"] == "ctranslate2"
    monkeypatch.setenv("TEXTGEN_MODEL", "")
    monkeypatch.delenv("TEXTGEN_BACKEND")
    config = load_config(tmp_path)
    assert config["TEXTGEN_MODEL"] is None
    assert config["TEXTGEN_BACKEND"] == "tf"
