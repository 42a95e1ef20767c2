"""Check that the compiled fast path reproduces eager `generate` token for token."""

from __future__ import annotations

from dataclasses import dataclass

from . import loading

# 20 fixed prompts in the style of the app's documents (short to medium).
FIXED_PROMPTS = [
    "How to install a package with apt",
    "Configuring the network on Debian",
    "The kernel loads modules at boot",
    "Managing users and groups",
    "Reading manual pages",
    "Setting up a firewall with nftables",
    "Upgrading to a new stable release",
    "Reporting a bug in a Debian package",
    "Mounting a USB drive",
    "Scheduling jobs with cron",
    "The systemd journal keeps the logs of every service",
    "Creating a backup of the home directory",
    "Changing file permissions with chmod",
    "Setting the time zone and the system clock",
    "Installing the SSH server and logging in remotely",
    "What to do when the system does not boot",
    "Adding a new disk and creating a file system on it",
    "Building a Debian package from source",
    "Configuring sudo for an administrator account",
    "The package manager keeps a cache of downloaded archives in /var/cache/apt, "
    "which can grow large over time and should be cleaned regularly",
]


@dataclass
class Difference:
    """One prompt whose fast-path tokens differ from eager generate."""

    prompt: str
    first_diff: int
    fast: list[int]
    eager: list[int]


def compare(generator, prompts=FIXED_PROMPTS, original=False) -> list[Difference]:
    """Fast path (batched, as the worker runs it) versus eager, per prompt.

    With `original`, the eager side is the original's own call
    (`max_length=100, num_beams=5, no_repeat_ngram_size=4,
    early_stopping=True`), so the generator must run
    GenerationSettings.original().  The eager side runs a fresh copy of the
    model: the generator's own may store its weights transposed for speed
    (layout.py), and the check is against transformers' own.
    """
    # TensorFlow is imported here, not with the module: FIXED_PROMPTS is
    # also read where TF is not installed (bench_gpu).
    from .eager import eager_generate_ids, original_generate_ids

    _, model, _ = loading.load(generator.info.reference)
    fast = generator.generate_ids(list(prompts))
    differences = []
    for prompt, fast_ids in zip(prompts, fast, strict=True):
        prepared = generator.prepare(prompt)
        if original:
            eager_ids = original_generate_ids(model, prepared.ids, generator.eos_id)
        else:
            eager_ids = eager_generate_ids(
                model,
                prepared.ids,
                generator.settings,
                generator.eos_id,
                prepared.new_tokens,
            )
        if fast_ids != eager_ids:
            pairs = zip(fast_ids, eager_ids, strict=False)
            first = next(
                (i for i, (a, b) in enumerate(pairs) if a != b),
                min(len(fast_ids), len(eager_ids)),
            )
            differences.append(Difference(prompt, first, fast_ids, eager_ids))
    return differences
