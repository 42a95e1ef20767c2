"""The Hugging Face hub, with every network call bounded by a short timeout.

The hub is often unreachable (offline machines, firewalls); the worker must
then fall back to the bundled seed model in seconds, not minutes.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from pathlib import Path

log = logging.getLogger("textgen")

DEFAULT_TIMEOUT_S = 3.0
# Files a TF GPT-2 needs; weights are fetched separately (one format only).
_TEXT_FILES = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
]
WEIGHT_FILES = ("model.safetensors", "tf_model.h5")


def network_timeout() -> float:
    """Seconds allowed for one hub probe (env TEXTGEN_NETWORK_TIMEOUT)."""
    try:
        return float(os.environ.get("TEXTGEN_NETWORK_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return any(flag and flag.lower() in ("1", "true", "yes", "on") for flag in flags)


def cached_snapshot(repo_id: str) -> Path | None:
    """The local snapshot directory of `repo_id` if config and weights are cached."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo_id, "config.json")
    if not isinstance(config, str):
        return None
    snapshot = Path(config).parent
    if any((snapshot / name).is_file() for name in WEIGHT_FILES):
        return snapshot
    return None


def _head(url: str, timeout: float, result: list) -> None:
    try:
        request = urllib.request.Request(url, method="HEAD")
        # `url` is the hub's fixed https address, never user input.
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
            result.append(response.status < 500)
    except Exception as exc:  # any failure means "not reachable"
        log.debug("hub probe %s failed: %s", url, exc)
        result.append(False)


def hub_reachable(repo_id: str = "gpt2", timeout: float | None = None) -> bool:
    """True if the hub answers for `repo_id` within `timeout` seconds.

    The probe runs in a daemon thread because urllib's timeout does not cover
    DNS resolution, which can hang far longer than the socket timeout.
    """
    if _offline():
        return False
    timeout = network_timeout() if timeout is None else timeout
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    result: list = []
    probe = threading.Thread(
        target=_head,
        args=(f"{endpoint}/api/models/{repo_id}", timeout, result),
        daemon=True,
    )
    probe.start()
    probe.join(timeout)
    return bool(result and result[0])


def download_snapshot(repo_id: str, cache_dir: str | None = None) -> Path:
    """Download the files a TF GPT-2 needs (with progress bars); return the snapshot.

    TF weights are preferred; repositories without them get safetensors.
    """
    from huggingface_hub import list_repo_files, snapshot_download

    timeout = network_timeout()
    files = set(list_repo_files(repo_id))
    weights = next(
        (name for name in ("tf_model.h5", "model.safetensors") if name in files), None
    )
    if weights is None:
        raise FileNotFoundError(f"{repo_id} has no tf_model.h5 or model.safetensors")
    log.info("downloading %s (%s) from the hub", repo_id, weights)
    # The operator names the model (make model MODEL=...); the download is
    # kept as files and its weights' sha256 recorded with every autodoc.
    path = snapshot_download(  # nosec B615
        repo_id,
        allow_patterns=_TEXT_FILES + [weights],
        cache_dir=cache_dir,
        etag_timeout=timeout,
    )
    return Path(path)
