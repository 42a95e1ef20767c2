"""The Generator: fast path versus eager, batching, guards, truncation."""

import logging
import threading

import pytest

from textgen import GenerationSettings, Generator, ModelLoadError
from textgen.eager import eager_generate_ids
from textgen.engine import (
    DEFAULT_BATCH_SIZES,
    left_pad,
    plan_batches,
    warmup_order,
)

from .conftest import TEST_SETTINGS

PROMPTS = [
    "The package manager",
    "Debian is a free operating system",
    "To configure the network, edit the file",
    "man apt",
    "Bugs are reported to the bug tracking system with the reportbug tool.",
]


def _eager(generator, prompt):
    prepared = generator.prepare(prompt)
    return eager_generate_ids(
        generator.model,
        prepared.ids,
        generator.settings,
        generator.eos_id,
        prepared.new_tokens,
    )


def test_fast_path_equals_eager_generate(tiny_generator):
    fast = tiny_generator.generate_ids(PROMPTS)
    for prompt, ids in zip(PROMPTS, fast, strict=True):
        assert ids == _eager(tiny_generator, prompt), prompt


@pytest.mark.parametrize("early_stopping", [True, False])
def test_greedy_and_non_early_stopping_equal_eager(tiny_model_dir, early_stopping):
    beams = 1 if early_stopping else 2
    settings = GenerationSettings(
        max_new_tokens=12,
        longest=12,
        num_beams=beams,
        no_repeat_ngram_size=2,
        early_stopping=early_stopping,
        min_new_tokens=4,
        length_buckets=(16,),
    )
    generator = Generator.load(str(tiny_model_dir), settings, warmup=False)
    assert generator.batch_sizes == (DEFAULT_BATCH_SIZES if early_stopping else (1,))
    fast = generator.generate_ids(PROMPTS[:3])
    for prompt, ids in zip(PROMPTS[:3], fast, strict=True):
        assert ids == _eager(generator, prompt), prompt


def test_batched_equals_unbatched(tiny_generator):
    batched = tiny_generator.generate_ids(PROMPTS)
    assert {tiny_generator.prepare(p).bucket for p in PROMPTS} == {8, 16}
    assert any(size > 1 for _, size, _ in tiny_generator.compiled())  # really batched
    for prompt, ids in zip(PROMPTS, batched, strict=True):
        assert tiny_generator.generate_ids([prompt]) == [ids]


def test_short_prompts_of_different_buckets_share_one_call(tiny_generator, monkeypatch):
    calls = []

    def run(prompts, seeds, size, bucket, mode):
        assert bucket == max(p.bucket for p in prompts)  # padded to the largest
        calls.append((sorted(p.bucket for p in prompts), size))
        return [[1]] * len(prompts)

    monkeypatch.setattr(tiny_generator, "_run", run)
    buckets = sorted(tiny_generator.prepare(p).bucket for p in PROMPTS[1:5])
    assert buckets[0] < buckets[-1]  # the four prompts span two buckets
    tiny_generator.generate_ids(PROMPTS[1:5])
    assert calls == [(buckets, 4)]


def test_batch_plan_pads_only_half_full_batches():
    assert plan_batches(1, (1, 8)) == [1]
    assert plan_batches(3, (1, 8)) == [1, 1, 1]
    assert plan_batches(5, (1, 8)) == [8]
    assert plan_batches(12, (1, 8)) == [8, 8]
    assert plan_batches(10, (1, 4, 8)) == [8, 4]


def test_generate_returns_continuations_in_order(tiny_generator):
    texts = tiny_generator.generate(PROMPTS[:2])
    ids = tiny_generator.generate_ids(PROMPTS[:2])
    assert texts == [tiny_generator.tokenizer.decode(i) for i in ids]
    assert all(text for text in texts)
    assert tiny_generator.generate([]) == []


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt_is_a_value_error(tiny_generator, prompt):
    with pytest.raises(ValueError, match="empty"):
        tiny_generator.generate(["fine", prompt])


def test_a_string_instead_of_a_list_is_refused(tiny_generator):
    with pytest.raises(TypeError):
        tiny_generator.generate("one prompt")


def test_long_prompt_is_cut_from_the_left(tiny_generator, caplog):
    prompt = " ".join(PROMPTS * 3)
    full = tiny_generator.tokenizer(prompt)["input_ids"]
    assert len(full) > 16
    with caplog.at_level(logging.INFO, logger="textgen"):
        prepared = tiny_generator.prepare(prompt)
        [ids] = tiny_generator.generate_ids([prompt])
    assert prepared.ids == tuple(full[-16:]) and prepared.bucket == 16
    assert "cut from the left" in caplog.text
    assert len(ids) >= TEST_SETTINGS.min_new_tokens


def test_never_an_empty_continuation(eos_model_dir):
    settings = GenerationSettings(
        max_new_tokens=8, longest=8, num_beams=2, min_new_tokens=5, length_buckets=(8,)
    )
    generator = Generator.load(str(eos_model_dir), settings, batch_sizes=(1,))
    prepared = generator.prepare("The package manager")
    # Without the guard this model ends at once: an empty continuation.
    unguarded = GenerationSettings(num_beams=2, min_new_tokens=1)
    eager = eager_generate_ids(generator.model, prepared.ids, unguarded, 0, 8)
    assert len(eager) == 1  # one token forced, then EOS
    [ids] = generator.generate_ids(["The package manager"])
    assert len(ids) >= 5
    assert generator.generate(["The package manager"])[0]


def test_warmup_compiles_every_program(tiny_model_dir):
    settings = GenerationSettings(
        max_new_tokens=8,
        longest=8,
        num_beams=2,
        length_buckets=(4, 8, 16),
        warm_buckets=(4, 8),
        min_new_tokens=4,
    )
    generator = Generator.load(
        str(tiny_model_dir), settings, warmup=False, batch_sizes=(1, 2)
    )
    generator.warmup(background=True)
    # Batch size 1 is compiled before warmup returns, larger ones in the background.
    assert {(bucket, 1, "beam") for bucket in (4, 8)} <= set(generator.compiled())
    assert generator.wait_warm(timeout=600)
    assert generator.compiled() == [
        (4, 1, "beam"),
        (4, 2, "beam"),
        (8, 1, "beam"),
        (8, 2, "beam"),
    ]
    # One trace of one program serves every batch size and bucket.
    assert list(generator._programs) == ["beam"]
    assert generator.program()._fn.experimental_get_tracing_count() == 1
    # Warm-up asks for one new token; the buffer after it is end tokens.
    ids, mask = left_pad([(5, 6)], 4, generator.eos_id)
    row = generator.program()(ids, mask, new_tokens=1).numpy()[0, 5:]
    assert set(row.tolist()) == {generator.eos_id}
    assert len(generator.generate_ids(["man apt"])[0]) >= 4


def test_settings_that_do_not_fit_the_window_fail_at_load(tiny_model_dir):
    # The tiny context is 128 tokens: 200 new ones leave no room for a prompt.
    settings = GenerationSettings(max_new_tokens=200, length_buckets=(8, 16))
    with pytest.raises(ModelLoadError, match="no room"):
        Generator.load(str(tiny_model_dir), settings, warmup=False)


def test_warmup_compiles_the_largest_programs_first():
    order = warmup_order((16, 32, 64), lambda bucket: (1, 8))
    assert order[:3] == [(8, 64), (8, 32), (8, 16)]
    assert order[-1] == (1, 16)


def test_while_warming_waiting_prompts_run_in_compiled_batch_sizes(tiny_model_dir):
    """Waiting prompts do not wait for a batch size the background warm-up
    has not compiled yet: they run in the sizes compiled so far."""
    settings = GenerationSettings(
        max_new_tokens=6,
        longest=6,
        min_new_tokens=2,
        num_beams=2,
        length_buckets=(8, 16),
    )
    generator = Generator.load(
        str(tiny_model_dir), settings, warmup=False, batch_sizes=(1, 2)
    )
    generator.warmup(buckets=(8,))  # batch 1 and 2 at bucket 8, not 16
    release = threading.Event()
    generator._warming = threading.Thread(target=release.wait)  # still compiling
    generator._warming.start()
    try:
        assert generator.batch_sizes_for(8) == (1, 2)
        assert generator.batch_sizes_for(16) == (1,)
        long_prompt = " ".join(["apt"] * 10)  # bucket 16
        generator.generate_ids([long_prompt, long_prompt + " man"])
        assert [c for c in generator.compiled() if c[0] == 16] == [(16, 1, "beam")]
    finally:
        release.set()
    assert generator.wait_warm(timeout=10)
    assert generator.batch_sizes_for(16) == (1, 2)


def test_batches_of_eight_are_for_short_prompts(tiny_model_dir):
    """Memory: a batch's new-token cache does not shrink with the bucket."""
    generator = Generator.load(
        str(tiny_model_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1, 4, 8)
    )
    assert generator.batch_sizes_for(64) == (1, 4, 8)
    assert generator.batch_sizes_for(128) == (1, 4)
    assert generator.batch_sizes_for(256) == (1,)
