"""decode.py's fixed cache against the model's own forward pass.

Beams that swap parents at every step are the case the index table exists
for: each beam's logits must equal a plain forward pass over that beam's
own history, prompt padding included.
"""

import numpy as np
import tensorflow as tf

from textgen import decode


def _full_forward_logits(model, prompt, mask, history):
    """The model's own last-position logits for prompt + history, no cache."""
    ids = tf.constant([list(prompt) + list(history)], tf.int32)
    full_mask = tf.constant([list(mask) + [1] * len(history)], tf.int32)
    positions = tf.math.cumsum(full_mask, axis=-1, exclusive=True)
    out = model(input_ids=ids, attention_mask=full_mask, position_ids=positions)
    return out.logits[0, -1].numpy()


def test_beams_that_change_parents_see_their_own_history(tiny_generator):
    model = tiny_generator.model
    # Past one chunk of new positions: attention reads the buffer chunk by
    # chunk, carrying its softmax from one to the next.
    beams, steps = 3, decode.CHUNK + 3
    checked = {0, 1, decode.CHUNK - 1, decode.CHUNK, steps - 1}
    # Two documents, the first left-padded as the engine pads short prompts.
    prompts = [[0, 0, 11, 12, 13], [21, 22, 23, 24, 25]]
    masks = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    rng = np.random.default_rng(0)
    tokens = rng.integers(30, 90, size=(steps, 2, beams))
    parents = [rng.permutation(beams) for _ in range(steps)]

    _, prompt = decode.prompt_pass(
        model, tf.constant(prompts, tf.int32), tf.constant(masks, tf.int32)
    )
    cache = decode.empty_cache(model, 2, beams, new_len=steps)
    histories = [[[] for _ in range(beams)] for _ in prompts]
    for step in range(steps):
        for doc in range(2):
            for beam in range(beams):
                histories[doc][beam].append(int(tokens[step, doc, beam]))
        logits, cache = decode.decode_step(
            model, tf.constant(tokens[step], tf.int32), step, prompt, cache
        )
        logits = logits.numpy().reshape(2, beams, -1)
        for doc in range(2 if step in checked else 0):
            for beam in range(beams):
                expected = _full_forward_logits(
                    model, prompts[doc], masks[doc], histories[doc][beam]
                )
                np.testing.assert_allclose(logits[doc, beam], expected, atol=1e-5)
        # Every beam continues from another beam's history.
        order = tf.constant([parents[step]] * 2, tf.int32)
        cache = decode.follow_beams(cache, order)
        histories = [[list(h[p]) for p in parents[step]] for h in histories]


def test_rows_at_their_own_steps_see_their_own_history(tiny_generator):
    """Per-row steps (a continuous batch): the second document joins three
    steps late, decoding its first position again until then."""
    model = tiny_generator.model
    beams, steps, late = 2, decode.CHUNK + 2, 3
    prompts = [[0, 11, 12, 13], [21, 22, 23, 24]]
    masks = [[0, 1, 1, 1], [1, 1, 1, 1]]
    rng = np.random.default_rng(1)
    tokens = rng.integers(30, 90, size=(steps, 2, beams))
    parents = [rng.permutation(beams) for _ in range(steps)]

    _, prompt = decode.prompt_pass(
        model, tf.constant(prompts, tf.int32), tf.constant(masks, tf.int32)
    )
    cache = decode.empty_cache(model, 2, beams, new_len=steps)
    histories = [[[] for _ in range(beams)] for _ in prompts]
    for step in range(steps):
        row_steps = [step, max(step - late, 0)]
        for doc, at in enumerate(row_steps):
            for beam in range(beams):
                kept = histories[doc][beam][:at]
                histories[doc][beam] = kept + [int(tokens[step, doc, beam])]
        logits, cache = decode.decode_step(
            model,
            tf.constant(tokens[step], tf.int32),
            tf.constant(row_steps, tf.int32),
            prompt,
            cache,
        )
        logits = logits.numpy().reshape(2, beams, -1)
        if step in {0, late, decode.CHUNK + late - 1, steps - 1}:
            for doc in range(2):
                for beam in range(beams):
                    expected = _full_forward_logits(
                        model, prompts[doc], masks[doc], histories[doc][beam]
                    )
                    np.testing.assert_allclose(logits[doc, beam], expected, atol=1e-5)
        order = tf.constant([parents[step]] * 2, tf.int32)
        cache = decode.follow_beams(cache, order)
        histories = [[list(h[p]) for p in parents[step]] for h in histories]
