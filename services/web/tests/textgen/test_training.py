"""Fine-tuning and evaluation (textgen.training, textgen.evaluation) on the
tiny GPT-2: real TensorFlow training steps, a few seconds per run."""

import math

import pytest
from transformers import GPT2TokenizerFast

from textgen import Generator, loading
from textgen.evaluation import memorized_share, perplexity, tokenize_blocks
from textgen.training import fine_tune, plan_steps

from .conftest import TEST_SETTINGS

# Prose the tiny model's tokenizer never saw, without a repeated phrase (beam
# search forbids repeating trigrams, which would hide a memorized text).
MEMO_TEXT = (
    "Harbour pilots board incoming ships beyond the breakwater and steer them "
    "through a narrow channel. Each pilot learns sandbanks, tides and old wrecks "
    "by heart over many years of service. At night green lights flash twice on "
    "an eastern pier while red lamps glow steadily across its western arm."
)
# Openings of MEMO_TEXT's sentences: a model that learnt it goes on verbatim.
PROMPTS = [
    "Harbour pilots board incoming ships",
    "Each pilot learns sandbanks,",
    "At night green lights flash",
    "through a narrow channel.",
]
FAST = {"learning_rate": 1e-2, "batch_size": 4}


@pytest.fixture(scope="module")
def memorized(tiny_model_dir, tmp_path_factory):
    """The tiny model fine-tuned until it knows MEMO_TEXT by heart, the result,
    and every progress call."""
    out_dir = tmp_path_factory.mktemp("memorized") / "model"
    calls = []
    result = fine_tune(
        tiny_model_dir,
        [MEMO_TEXT] * 4,
        [MEMO_TEXT],
        out_dir,
        max_seconds=120,
        max_epochs=60,
        on_progress=lambda *args: calls.append(args),
        **FAST,
    )
    return out_dir, result, calls


def test_fine_tuning_lowers_validation_perplexity_and_saves_a_ready_model(memorized):
    out_dir, result, _ = memorized
    assert not result.cancelled
    assert result.val_perplexity < result.val_perplexity_base / 10
    assert result.steps == result.planned_steps > 1
    assert (result.train_documents, result.val_documents) == (4, 1)
    assert result.train_tokens == 4 * result.val_tokens > 4
    assert result.weights_sha256 == loading.sha256_file(loading.weights_file(out_dir))
    assert result.weights_sha256 != result.base_weights_sha256
    generator = Generator.load(
        str(out_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1,)
    )
    assert generator.info.weights_sha256 == result.weights_sha256
    (continuation,) = generator.generate(["Harbour pilots board"])
    assert continuation.strip()


def test_base_perplexity_is_the_base_models_perplexity(memorized, tiny_model_dir):
    _, result, _ = memorized
    tokenizer, model, info = loading.load(str(tiny_model_dir))
    assert result.base_weights_sha256 == info.weights_sha256
    base = perplexity(model, tokenizer, [MEMO_TEXT], block_size=128)
    assert base == pytest.approx(result.val_perplexity_base, rel=1e-4)


def test_progress_arrives_with_increasing_steps_and_validation_at_both_ends(
    memorized,
):
    _, result, calls = memorized
    steps = [call[0] for call in calls]
    assert steps == sorted(set(steps)) and steps[0] == 0
    assert steps[-1] == result.steps
    assert calls[0][2:] == (None, pytest.approx(math.log(result.val_perplexity_base)))
    assert calls[-1][3] == pytest.approx(math.log(result.val_perplexity))
    validations = [call for call in calls if call[3] is not None]
    assert len(validations) >= 4  # start, inside the run, end
    assert all(step <= planned for step, planned, *_ in calls)
    assert result.losses == [list(call[:1] + call[2:]) for call in calls]


def test_memorized_share_is_high_after_memorizing_and_low_for_the_base_model(
    memorized, tiny_generator
):
    out_dir, _, _ = memorized
    trained = Generator.load(
        str(out_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1, 4)
    )
    tokenizer = trained.tokenizer

    def share(generator):
        return memorized_share(
            generator.generate, PROMPTS, MEMO_TEXT, n=8, tokenizer=tokenizer
        )

    assert share(trained) > 0.5
    assert share(tiny_generator) < 0.1


def test_should_stop_cancels_and_writes_no_model(tiny_model_dir, tmp_path):
    checks = []

    def should_stop():
        checks.append(1)
        return len(checks) > 2  # before the third step

    out_dir = tmp_path / "model"
    result = fine_tune(
        tiny_model_dir,
        [MEMO_TEXT] * 4,
        [MEMO_TEXT],
        out_dir,
        max_seconds=60,
        max_epochs=50,
        should_stop=should_stop,
        **FAST,
    )
    assert result.cancelled
    assert result.steps == 2
    assert result.weights_sha256 is None and result.val_perplexity is None
    assert list(tmp_path.iterdir()) == []  # no model, no half-written copy


def test_time_budget_ends_the_run_before_the_epoch_limit(tiny_model_dir, tmp_path):
    result = fine_tune(
        tiny_model_dir,
        [MEMO_TEXT] * 4,
        [MEMO_TEXT],
        tmp_path / "model",
        max_seconds=10,
        max_epochs=100_000,
        **FAST,
    )
    assert 1 <= result.steps <= result.planned_steps < 4 * 100_000
    # At least one step is taken whatever the time, and it may overrun the
    # budget on a busy machine (the first step traces the function).
    assert result.seconds < 10 + 10
    assert (tmp_path / "model" / "config.json").is_file()


def test_the_same_seed_gives_the_same_weights(tiny_model_dir, tmp_path):
    def run(name, seed):
        return fine_tune(
            tiny_model_dir,
            [MEMO_TEXT] * 2,
            [MEMO_TEXT],
            tmp_path / name,
            max_seconds=60,
            max_epochs=3,
            seed=seed,
            **FAST,
        ).weights_sha256

    first = run("a", seed=1)
    assert run("b", seed=1) == first
    assert run("c", seed=2) != first


def test_an_existing_output_directory_is_refused_before_training(
    tiny_model_dir, tmp_path
):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(FileExistsError):
        fine_tune(
            tiny_model_dir, [MEMO_TEXT], [MEMO_TEXT], tmp_path / "model", max_seconds=5
        )


def test_blocks_are_documents_each_ended_by_eos_and_cut_every_block_size(
    tiny_model_dir,
):
    tokenizer = GPT2TokenizerFast.from_pretrained(tiny_model_dir)
    eos = tokenizer.eos_token_id
    texts = ["apt installs packages.", "The kernel loads modules at boot."]
    stream = [t for text in texts for t in (*tokenizer(text)["input_ids"], eos)]
    blocks = tokenize_blocks(tokenizer, texts, block_size=4)
    assert (blocks.documents, blocks.tokens) == (2, len(stream))
    assert blocks.ids.shape == (math.ceil(len(stream) / 4), 4)
    assert blocks.ids.reshape(-1)[: len(stream)].tolist() == stream
    assert blocks.mask.sum() == len(stream)
    assert blocks.mask.reshape(-1)[len(stream) :].sum() == 0


def test_memorized_share_counts_verbatim_ngrams_within_documents():
    training = ["a b c d e", "f g h"]
    continuations = {"p": "a b c x e f g h", "q": "c d e"}

    def generate(prompts):
        return [continuations[p] for p in prompts]

    # 3-grams: (a b c) yes, (b c x) (c x e) (x e f) (e f g) no, (f g h) yes;
    # (c d e) yes: 3 of 7.  (e f g) spans two documents, so it is not found.
    assert memorized_share(generate, ["p", "q"], training, n=3) == pytest.approx(3 / 7)
    assert memorized_share(generate, ["q"], "a b c d e", n=3) == 1.0
    assert memorized_share(generate, ["q"], training, n=4) == 0.0  # no 4-gram


def test_plan_steps_fits_the_time_left_within_the_epoch_limit():
    assert plan_steps(done=2, per_step=0.5, seconds_left=10, cap=100) == 22
    assert plan_steps(done=2, per_step=0.5, seconds_left=100, cap=100) == 100
    assert plan_steps(done=2, per_step=0.5, seconds_left=-5, cap=100) == 2
    assert plan_steps(done=0, per_step=9.0, seconds_left=1, cap=100) == 1
