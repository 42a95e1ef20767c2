"""A tiny random GPT-2 (model + tokenizer) for tests and smoke runs.

The real GPT-2 is 500 MB and the hub is not always reachable, so tests of the
engine and of the app build this one in a second instead: 2 layers, width 32,
a ~500-token byte-level BPE trained in-process on a few paragraphs.  It writes
nonsense, but through exactly the same code paths as GPT-2.
"""

from __future__ import annotations

from pathlib import Path

from .bpe import train_gpt2_tokenizer

# A few paragraphs of Debian-documentation-like text: enough for the BPE
# trainer to learn a few hundred merges.
_CORPUS = [
    "Debian is a free operating system for your computer. The package manager "
    "installs, upgrades and removes software. Use apt to install a package.",
    "To configure the network, edit the file /etc/network/interfaces and "
    "restart the networking service. The system logs are kept in /var/log.",
    "The kernel loads modules at boot. A module can be blacklisted in a file "
    "under /etc/modprobe.d so that it is never loaded automatically.",
    "Every package has a maintainer who uploads new versions to the archive. "
    "Bugs are reported to the bug tracking system with the reportbug tool.",
    "Users and groups are managed with adduser and addgroup. Permissions on "
    "files are changed with chmod and ownership with chown.",
    "The documentation of a command is available in its manual page: type man "
    "followed by the name of the command, for example man apt.",
]


def _seeded_weights(model, seed: int) -> None:
    """The same weights on every build, in every process.

    tf.random.set_seed did not make TF's initializers repeat across processes,
    so a test could meet a model with near-ties that another run never saw.
    GPT-2's own scheme: matrices N(0, 0.02); biases 0 and norms 1 as built.
    """
    import numpy as np

    rng = np.random.RandomState(seed)
    for variable in model.trainable_variables:
        if len(variable.shape) > 1:
            values = rng.normal(0.0, 0.02, variable.shape).astype(np.float32)
            variable.assign(values)


def _boost_eos(model, eos_id: int, boost: float) -> None:
    """Make the model want to end at once: add `boost` to the EOS logit.

    GPT-2's head is tied to the token embedding and has no bias, so the boost
    goes through the final layer norm: its bias gets a constant component along
    axis 0 and the EOS embedding row points along that axis.
    """
    import numpy as np

    transformer = model.transformer
    beta = transformer.ln_f.beta.numpy()
    beta[0] += 10.0
    transformer.ln_f.beta.assign(beta)
    wte = transformer.wte.embeddings.numpy()
    wte[eos_id] = 0.0
    wte[eos_id, 0] = boost / 10.0
    transformer.wte.embeddings.assign(wte.astype(np.float32))


def build_tiny_gpt2(
    directory,
    *,
    seed: int = 0,
    n_positions: int = 128,
    vocab_size: int = 500,
    eos_boost: float = 0.0,
):
    """Build, save (save_pretrained) and return the directory of a tiny GPT-2.

    `eos_boost` > 0 makes the model end immediately unless the end token is
    suppressed; the empty-continuation guard is tested with it.
    """
    import tensorflow as tf
    from transformers import GPT2Config, TFGPT2LMHeadModel

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = train_gpt2_tokenizer(_CORPUS * 4, vocab_size, min_frequency=1)
    eos_id = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    model = TFGPT2LMHeadModel(config)
    model(tf.constant([[eos_id]]))  # create the weights
    _seeded_weights(model, seed)
    if eos_boost:
        _boost_eos(model, eos_id, eos_boost)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
