"""Weight layouts: either one computes what transformers' own model does."""

import numpy as np
import pytest
import tensorflow as tf

from textgen import Generator, layout, loading
from textgen.eager import eager_generate_ids

from .conftest import TEST_SETTINGS

PROMPTS = ["The package manager", "man apt", "Debian is a free operating system"]


def _matrices(model):
    return [layout._matrix(layer).numpy() for layer in layout.matrices(model)]


def _logits(model, ids):
    return model(input_ids=tf.constant([ids], tf.int32)).logits.numpy()


@pytest.mark.parametrize("weight_layout", layout.LAYOUTS)
def test_either_layout_generates_what_a_fresh_model_generates(
    tiny_model_dir, weight_layout
):
    generator = Generator.load(
        str(tiny_model_dir),
        TEST_SETTINGS,
        warmup=False,
        batch_sizes=(1, 4),
        weight_layout=weight_layout,
    )
    assert layout.stored(generator.model.transformer.wte) == weight_layout
    _, fresh, _ = loading.load(str(tiny_model_dir))
    fast = generator.generate_ids(PROMPTS)
    for prompt, ids in zip(PROMPTS, fast, strict=True):
        prepared = generator.prepare(prompt)
        eager = eager_generate_ids(
            fresh,
            prepared.ids,
            generator.settings,
            generator.eos_id,
            prepared.new_tokens,
        )
        assert ids == eager, prompt


def test_storing_moves_the_numbers_not_the_model(tiny_model_dir):
    _, model, _ = loading.load(str(tiny_model_dir))
    before, ids = _matrices(model), [5, 17, 99, 3, 250]
    expected = _logits(model, ids)
    for name in ("in_out", "out_in", "in_out"):
        layout.store(model, name)
        # The lookup, the blocks and the output layer all read the new layout.
        np.testing.assert_allclose(_logits(model, ids), expected, atol=1e-5)
    embedding, *convs = _matrices(model)
    n_embd = model.config.n_embd
    np.testing.assert_array_equal(embedding.reshape(n_embd, -1).T, before[0])
    for now, own in zip(convs, before[1:], strict=True):  # in_out: GPT-2's own
        np.testing.assert_array_equal(now, own)
    layout.store(model, "out_in")
    assert not np.array_equal(_matrices(model)[1], before[1])
    assert np.array_equal(_matrices(model)[0], before[0])  # GPT-2's own


def test_fastest_keeps_the_layout_it_measured_faster(tiny_model_dir):
    _, model, _ = loading.load(str(tiny_model_dir))
    winner, best_ms = layout.fastest(model, repeats=1)
    assert set(best_ms) == set(layout.LAYOUTS)
    assert winner == min(best_ms, key=best_ms.get)
    assert all(0 < ms < float("inf") for ms in best_ms.values())
    assert {layout.stored(layer) for layer in layout.matrices(model)} == {winner}


def test_an_unknown_layout_is_refused(tiny_model_dir):
    _, model, _ = loading.load(str(tiny_model_dir))
    with pytest.raises(ValueError, match="unknown weight layout"):
        layout.store(model, "columns")


def test_a_model_stored_for_generation_refuses_to_train_or_be_saved(
    tiny_model_dir, tmp_path
):
    _, model, _ = loading.load(str(tiny_model_dir))
    layout.store(model, "in_out")
    ids = tf.constant([[5, 6, 7]], tf.int32)
    with pytest.raises(ValueError, match="train a fresh copy"):
        model(input_ids=ids, labels=ids)
    with pytest.raises(ValueError, match="save a fresh copy"):
        model.save_pretrained(tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
