"""The ctranslate2 backend: numpy conversion, then ct2 versus eager TF generate.

Why the reference is eager `generate` *plus one processor* (`Renormalize`):
ctranslate2 bans tokens (no-repeat n-grams, EOS before min_new_tokens) by
masking the logits *before* its log-softmax, so a beam's next-token
log-probs are renormalized over the tokens still allowed.  transformers
applies its processors *after* log_softmax: the banned probability mass is
simply lost and the beam's score is lower.  Beam scores, hence the beams kept,
differ whenever a beam had a banned token with real probability.  Eager
`generate` with a last processor that log-softmaxes the processed scores
again is exactly ct2's rule, and ct2 must equal it token for token in
float32; plain eager `generate` must then equal ct2 on every prompt where
the renormalization does not change eager's own result.  Greedy search
(num_beams=1) is unaffected (an argmax does not move), so there ct2 must
equal plain eager.

The tiny models' random weights differ from one pytest process to the next
(tf.random.set_seed(0) in build_tiny_gpt2 does not pin them), so how many
tiny prompts equal plain eager varies by run; the assertions do not.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from transformers import GPT2TokenizerFast, TFGPT2LMHeadModel
from transformers.generation.tf_logits_process import (
    TFLogitsProcessor,
    TFLogitsProcessorList,
)

from textgen import GenerationSettings
from textgen.ct2 import CT2Runner, convert
from textgen.eager import eager_generate_ids, strip_after_eos
from textgen.equivalence import FIXED_PROMPTS
from textgen.files import sha256_file
from textgen.loading import SEED_MODEL_DIR
from textgen.program import generation_config
from textgen.tiny import build_tiny_gpt2

from .test_engine import PROMPTS

needs_seed = pytest.mark.skipif(
    not (SEED_MODEL_DIR / "config.json").is_file(), reason="no seed model"
)


class Renormalize(TFLogitsProcessor):
    """log_softmax of the processed scores: ctranslate2's rule (see above)."""

    def __call__(self, input_ids, scores, cur_len):
        return tf.nn.log_softmax(scores)


class Model:
    """A source GPT-2: tokenizer, TF model and its ct2 conversion(s)."""

    def __init__(self, source, out_dir, quantizations=(None,)):
        self.source = source
        self.tokenizer = GPT2TokenizerFast.from_pretrained(source)
        self.tf = TFGPT2LMHeadModel.from_pretrained(source)
        self.eos_id = self.tokenizer.eos_token_id
        self.dirs = {q: convert(source, out_dir / str(q), q) for q in quantizations}
        # One ct2 thread: TensorFlow's threads share the same few cores.
        self.runners = {
            q: CT2Runner(path, "cpu", q or "float32", intra_threads=1)
            for q, path in self.dirs.items()
        }
        self.ct2 = self.runners[None]

    def ids(self, prompt: str) -> list[int]:
        return self.tokenizer.encode(prompt)

    def eager(self, ids, settings, new_tokens, renormalize=False) -> list[int]:
        if not renormalize:
            return eager_generate_ids(self.tf, ids, settings, self.eos_id, new_tokens)
        x = tf.constant([ids], tf.int32)
        config = generation_config(settings, self.eos_id, new_tokens, len(ids))
        out = self.tf.generate(
            x,
            attention_mask=tf.ones_like(x),
            generation_config=config,
            logits_processor=TFLogitsProcessorList([Renormalize()]),
        )
        return strip_after_eos(out[0, len(ids) :].numpy().tolist(), self.eos_id)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir, tmp_path_factory):
    return Model(tiny_model_dir, tmp_path_factory.mktemp("tiny-ct2"))


@pytest.fixture(scope="module")
def ending(tmp_path_factory):
    """A tiny GPT-2 whose EOS competes with the other tokens: beams end at
    different lengths, so the choice among finished hypotheses is exercised."""
    source = build_tiny_gpt2(tmp_path_factory.mktemp("tiny-ends"), eos_boost=0.65)
    return Model(source, tmp_path_factory.mktemp("tiny-ends-ct2"))


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed-ct2")
    return Model(SEED_MODEL_DIR, out, quantizations=(None, "int8"))


def _beam_kwargs(settings, new_tokens):
    return dict(
        max_new_tokens=new_tokens,
        min_new_tokens=settings.min_new_tokens,
        num_beams=settings.num_beams,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        early_stopping=settings.early_stopping,
    )


def _prefix_share(ids, reference) -> float:
    """Share of `reference` reproduced before the first differing token."""
    n = 0
    for a, b in zip(ids, reference, strict=False):
        if a != b:
            break
        n += 1
    return n / max(len(reference), 1)


def _compare_with_eager(model, prompts, settings, new_tokens):
    """Assert ct2 == renormalized eager on every prompt, and == plain eager
    wherever renormalizing does not change eager's result; return the count
    of prompts identical to plain eager and the mean shared-prefix share."""
    kwargs = _beam_kwargs(settings, new_tokens)
    same, shares = 0, []
    for prompt in prompts:
        ids = model.ids(prompt)
        (ct2,) = model.ct2.generate_ids([ids], **kwargs)
        plain = model.eager(ids, settings, new_tokens)
        renormalized = model.eager(ids, settings, new_tokens, renormalize=True)
        assert ct2 == renormalized, prompt
        if plain == renormalized:
            assert ct2 == plain, prompt
        same += ct2 == plain
        shares.append(_prefix_share(ct2, plain))
    return same, float(np.mean(shares))


# -- conversion ---------------------------------------------------------------


def test_convert_writes_model_tokenizer_and_source(tiny, tiny_model_dir):
    out = tiny.dirs[None]
    for name in ("model.bin", "config.json", "vocabulary.json", "tokenizer.json"):
        assert (out / name).is_file(), name
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["format"] == "ctranslate2"
    assert metadata["name"] == tiny_model_dir.resolve().name
    assert metadata["source_weights_sha256"] == sha256_file(
        tiny_model_dir / "tf_model.h5"
    )
    vocabulary = json.loads((out / "vocabulary.json").read_text())
    assert vocabulary == tiny.tokenizer.convert_ids_to_tokens(range(len(vocabulary)))
    config = json.loads((out / "config.json").read_text())
    assert config["eos_token"] == config["bos_token"] == "<|endoftext|>"
    copied = GPT2TokenizerFast.from_pretrained(out)
    assert copied.encode(PROMPTS[1]) == tiny.ids(PROMPTS[1])
    with pytest.raises(FileExistsError):
        convert(tiny_model_dir, out)


def test_pytorch_layout_safetensors_convert_the_same(tiny, tiny_model_dir, tmp_path):
    """A GPT-2 saved by PyTorch (h.0.attn.c_attn.weight, 1-D biases, a
    causal-mask buffer, an explicit tied lm_head) converts to the same model."""
    from safetensors.numpy import save_file

    from textgen.ct2_convert import _read_weights

    source = tmp_path / "pt"
    source.mkdir()
    for path in tiny_model_dir.iterdir():
        if path.name != "tf_model.h5":
            (source / path.name).write_bytes(path.read_bytes())
    weights = _read_weights(tiny_model_dir / "tf_model.h5")
    tensors = {
        f"transformer.{k}": v.reshape(-1) if k.endswith("bias") else v
        for k, v in weights.items()
    }
    tensors["lm_head.weight"] = weights["wte.weight"]
    tensors["transformer.h.0.attn.bias"] = np.tril(np.ones((1, 1, 4, 4), np.float32))
    save_file(tensors, str(source / "model.safetensors"))
    runner = CT2Runner(
        convert(source, tmp_path / "ct2"), "cpu", "float32", intra_threads=1
    )
    tokens = [runner.tokens[i] for i in tiny.ids(PROMPTS[2])]
    np.testing.assert_array_equal(
        np.asarray(runner.generator.forward_batch([tokens])),
        np.asarray(tiny.ct2.generator.forward_batch([tokens])),
    )


@needs_seed
def test_converted_seed_model_records_its_source(seed):
    source = json.loads((SEED_MODEL_DIR / "metadata.json").read_text())
    for quantization, out in seed.dirs.items():
        metadata = json.loads((out / "metadata.json").read_text())
        assert metadata["name"] == "debian-docs-gpt2"
        assert metadata["source_weights_sha256"] == source["weights"]["sha256"]
        assert metadata["quantization"] == (quantization or "float32")


@pytest.mark.parametrize("which", ["tiny", pytest.param("seed", marks=needs_seed)])
def test_float32_logits_equal_tensorflow(which, request):
    model = request.getfixturevalue(which)
    for prompt in PROMPTS[:3]:
        ids = model.ids(prompt)
        expected = model.tf(tf.constant([ids])).logits[0].numpy()
        tokens = [model.ct2.tokens[i] for i in ids]
        got = np.asarray(model.ct2.generator.forward_batch([tokens]))[0]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# -- beam search against eager generate -----------------------------------------


def test_beam_search_equals_eager_on_tiny_model(tiny):
    settings = GenerationSettings(num_beams=3, no_repeat_ngram_size=3, min_new_tokens=6)
    same, share = _compare_with_eager(tiny, PROMPTS, settings, new_tokens=20)
    print(f"\ntiny: {same}/{len(PROMPTS)} identical to plain eager, prefix {share:.2f}")


def test_beam_search_picks_finished_hypotheses_like_eager(ending):
    """Beams end at different lengths: ct2's own ranking (score over prompt +
    continuation length, running beams included) would pick other ones."""
    settings = GenerationSettings(num_beams=3, no_repeat_ngram_size=3, min_new_tokens=4)
    same, share = _compare_with_eager(ending, PROMPTS, settings, new_tokens=16)
    print(
        f"\nending: {same}/{len(PROMPTS)} identical to plain eager, prefix {share:.2f}"
    )
    kwargs = _beam_kwargs(settings, 16)
    options = dict(
        beam_size=3, num_hypotheses=3, length_penalty=1.0, return_scores=True
    )
    lengths, overruled = set(), 0
    for prompt in PROMPTS:
        ids = ending.ids(prompt)
        (picked,) = ending.ct2.generate_ids([ids], **kwargs)
        lengths.add(len(picked))
        result, start = ending.ct2._generate_one(ids, options, 16, 4, 3)
        own_best = ending.ct2._new_tokens(start, result.sequences_ids[0])
        overruled += ending.ct2._strip(own_best) != picked
    assert len(lengths) > 1 and min(lengths) < 15  # EOS reached, at various points
    assert overruled >= 1  # ct2's own first choice was not eager's


@needs_seed
def test_seed_model_beam_search_equals_eager(seed):
    settings = GenerationSettings(
        num_beams=3, no_repeat_ngram_size=4, min_new_tokens=10
    )
    prompts = FIXED_PROMPTS[:3]
    same, share = _compare_with_eager(seed, prompts, settings, new_tokens=30)
    print(f"\nseed: {same}/{len(prompts)} identical to plain eager, prefix {share:.2f}")


@needs_seed
def test_seed_model_greedy_equals_plain_eager(seed):
    settings = GenerationSettings(
        num_beams=1, no_repeat_ngram_size=4, min_new_tokens=10
    )
    for prompt in FIXED_PROMPTS[3:5]:
        ids = seed.ids(prompt)
        (ct2,) = seed.ct2.generate_ids([ids], **_beam_kwargs(settings, 30))
        assert ct2 == seed.eager(ids, settings, 30), prompt


def _mean_log_prob(runner, sequences) -> float:
    """Mean per-token log-probability `runner`'s model gives `sequences`."""
    tokens = [[runner.tokens[i] for i in ids] for ids in sequences]
    return float(
        np.mean([np.mean(r.log_probs) for r in runner.generator.score_batch(tokens)])
    )


@needs_seed
def test_seed_model_int8_rates_text_like_float32(seed):
    """int8 weights move near-ties, so the texts part ways after a few tokens
    (how soon depends on the CPU's int8 kernels: 3/20 identical on an AMD EPYC
    without AVX-512, more on Intel with VNNI).  What must hold on any CPU is
    that int8 is the same model: it rates float32's text as float32 does, and
    its own text is nearly as good by float32's measure.  A wrong conversion
    (a transposed or missing weight) is off by far more than these margins."""
    prompts = [seed.ids(p) for p in FIXED_PROMPTS]
    kwargs = dict(
        max_new_tokens=30, min_new_tokens=10, num_beams=3, no_repeat_ngram_size=4
    )
    reference = seed.ct2.generate_ids(prompts, **kwargs)
    int8 = seed.runners["int8"].generate_ids(prompts, **kwargs)
    shares = [_prefix_share(a, b) for a, b in zip(int8, reference, strict=True)]
    float_texts = [p + ids for p, ids in zip(prompts, reference, strict=True)]
    int8_texts = [p + ids for p, ids in zip(prompts, int8, strict=True)]
    own = _mean_log_prob(seed.ct2, float_texts)
    int8_on_float = _mean_log_prob(seed.runners["int8"], float_texts)
    float_on_int8 = _mean_log_prob(seed.ct2, int8_texts)
    print(
        f"\nint8 vs float32: mean shared prefix {np.mean(shares):.2f}; "
        f"log-prob per token {own:.3f} (float32), {int8_on_float:.3f} (int8 on "
        f"float32's text), {float_on_int8:.3f} (float32 on int8's text)"
    )
    assert abs(int8_on_float - own) < 0.05 * abs(own)
    assert abs(float_on_int8 - own) < 0.10 * abs(own)


# -- no-repeat n-grams over prompt + continuation ------------------------------


def test_split_prompt_leaves_every_ngram_to_a_ct2_check():
    prompt = [10, 11, 12, 13, 14, 15, 11, 12]
    static, start, suppress = CT2Runner.split_prompt(prompt, 3)
    assert (static, start) == ([10, 11, 12, 13, 14], [15, 11, 12])
    # n-grams starting in the static part or at the first start token (15);
    # later ones lie in what ct2's own check scans ([11, 12] + continuation).
    assert suppress == [
        [10, 11, 12],
        [11, 12, 13],
        [12, 13, 14],
        [13, 14, 15],
        [14, 15, 11],
        [15, 11, 12],
    ]
    assert CT2Runner.split_prompt([10, 11, 12], 3) == ([], [10, 11, 12], [[10, 11, 12]])
    assert CT2Runner.split_prompt([10, 11], 3) == ([], [10, 11], [])
    assert CT2Runner.split_prompt([10, 11, 12], 0) == ([10, 11], [12], [])


def _grams(seq, n) -> list[tuple[int, ...]]:
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def _repeats(prompt, new, n, *, crossing=True) -> int:
    """n-grams holding a new token that already occur earlier in prompt + new
    (with crossing=False only those made of new tokens alone)."""
    grams = _grams(prompt + new, n)
    first = len(prompt) if crossing is False else len(prompt) - n + 1
    return sum(grams[i] in grams[:i] for i in range(max(first, 0), len(grams)))


REPEATING_TEXT = "The system is a system, and the system is a Debian system, and the"


@needs_seed
@pytest.mark.parametrize("mode", ["beam", "sample"])
def test_ngrams_of_the_prompt_are_not_repeated(seed, mode):
    """transformers' rule, for a prompt alone; ct2's own check alone misses
    the prompt's n-grams (4 of these 21 beam continuations would repeat one)."""
    prompts = [seed.ids(p) for p in [*FIXED_PROMPTS, REPEATING_TEXT]]
    for n in (3, 4):
        for index, prompt in enumerate(prompts):
            (out,) = seed.runners["int8"].generate_ids(
                [prompt],
                max_new_tokens=40,
                min_new_tokens=10,
                num_beams=4,
                no_repeat_ngram_size=n,
                mode=mode,
                seeds=[index],
            )
            assert _repeats(prompt, out, n) == 0, (n, index)


class CountingGenerator:
    """A ctranslate2.Generator that counts generate_batch calls and prompts."""

    def __init__(self, generator):
        self.generator = generator
        self.calls = []

    def generate_batch(self, start_tokens, **options):
        self.calls.append(len(start_tokens))
        return self.generator.generate_batch(start_tokens, **options)


@pytest.fixture
def counted(seed, monkeypatch):
    counter = CountingGenerator(seed.ct2.generator)
    monkeypatch.setattr(seed.ct2, "generator", counter)
    return counter


@needs_seed
def test_a_batch_gives_each_prompt_its_own_result(seed, counted):
    """Without n-gram rules or a minimum, prompts of any length share one
    call, and each gets what it gets alone."""
    prompts = [seed.ids(p) for p in FIXED_PROMPTS[:6]]
    assert len(set(map(len, prompts))) > 1
    kwargs = dict(max_new_tokens=30, min_new_tokens=0, num_beams=4)
    batch = seed.ct2.generate_ids(prompts, no_repeat_ngram_size=0, **kwargs)
    assert counted.calls == [6]
    alone = [
        seed.ct2.generate_ids([p], no_repeat_ngram_size=0, **kwargs)[0] for p in prompts
    ]
    assert batch == alone


@needs_seed
def test_with_a_minimum_prompts_share_a_call_with_their_length(seed, counted):
    """ct2 ignores min_length for a prompt longer than the call's shortest."""
    short, longer = seed.ids("Debian packages"), seed.ids(FIXED_PROMPTS[0])
    prompts = [short, longer, short[::-1], longer[::-1], longer]
    seed.ct2.generate_ids(
        prompts, max_new_tokens=8, min_new_tokens=4, num_beams=3, no_repeat_ngram_size=4
    )
    assert sorted(counted.calls) == [2, 3]


@needs_seed
def test_a_batch_bans_the_ngrams_of_every_prompt(seed):
    """In a batch, no continuation repeats an n-gram of the batch's prompts
    or of itself; only n-grams across its own prompt's end escape (ct2 sees
    the new tokens only), as _beam_batch says."""
    kwargs = dict(max_new_tokens=40, min_new_tokens=0, num_beams=4)
    prompts = [seed.ids(p) for p in [*FIXED_PROMPTS[:8], REPEATING_TEXT]]
    # A prompt made of what the first continuation says when alone: in the
    # batch that continuation must say something else.
    (alone,) = seed.ct2.generate_ids(prompts[:1], no_repeat_ngram_size=4, **kwargs)
    prompts.append(alone[2:14])
    outs = seed.ct2.generate_ids(prompts, no_repeat_ngram_size=4, **kwargs)
    banned = {gram for prompt in prompts for gram in _grams(prompt, 4)}
    for prompt, out in zip(prompts, outs, strict=True):
        assert not banned & set(_grams(out, 4))
        assert _repeats(prompt, out, 4, crossing=False) == 0
    assert outs[0] != alone


# -- lengths ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["beam", "sample"])
def test_min_and_max_new_tokens_are_respected(mode, tiny, eos_model_dir, tmp_path):
    ends_at_once = CT2Runner(
        convert(eos_model_dir, tmp_path / "eos"), "cpu", "float32", intra_threads=1
    )
    prompts = [tiny.ids(p) for p in PROMPTS[:3]]
    prompts.append(prompts[0][::-1])  # two of one length share a beam call
    common = dict(num_beams=3, no_repeat_ngram_size=3, mode=mode, seeds=[1, 2, 3, 4])
    # A model that wants EOS at once gets exactly min_new_tokens tokens.
    for low in (1, 5):
        out = ends_at_once.generate_ids(
            prompts, max_new_tokens=12, min_new_tokens=low, **common
        )
        assert [len(ids) for ids in out] == [low] * 4
    # EOS banned for all of them: exactly max_new_tokens, from either model.
    for runner in (ends_at_once, tiny.ct2):
        out = runner.generate_ids(prompts, max_new_tokens=9, min_new_tokens=9, **common)
        assert [len(ids) for ids in out] == [9] * 4
    out = tiny.ct2.generate_ids(prompts, max_new_tokens=9, min_new_tokens=2, **common)
    assert all(2 <= len(ids) <= 9 for ids in out)


# -- sampling -----------------------------------------------------------------


@needs_seed
def test_sampling_is_reproducible_from_the_seed(seed):
    runner = seed.runners["int8"]  # the CPU default
    prompts = [seed.ids(p) for p in FIXED_PROMPTS[:3]]
    kwargs = dict(
        max_new_tokens=20,
        min_new_tokens=5,
        num_beams=1,
        no_repeat_ngram_size=4,
        mode="sample",
        top_p=0.9,
        temperature=0.8,
    )
    first = runner.generate_ids(prompts, seeds=[1, 2, 3], **kwargs)
    # Same runner, same seeds again: ct2 keeps one random generator per worker
    # thread, seeded once; the runner must still reproduce the draw.
    assert runner.generate_ids(prompts, seeds=[1, 2, 3], **kwargs) == first
    # A prompt's draw does not depend on the other prompts of the call.
    assert runner.generate_ids(prompts[1:2], seeds=[2], **kwargs) == first[1:2]
    other = runner.generate_ids(prompts, seeds=[4, 5, 6], **kwargs)
    assert sum(a != b for a, b in zip(first, other, strict=True)) >= 2
    unseeded = runner.generate_ids(prompts, **kwargs)
    assert all(5 <= len(ids) <= 20 for ids in unseeded)


# -- guards -------------------------------------------------------------------


def test_rejects_what_it_cannot_do(tiny):
    ids = tiny.ids(PROMPTS[0])
    kwargs = dict(max_new_tokens=5, min_new_tokens=1, num_beams=2)
    with pytest.raises(ValueError, match="early_stopping"):
        tiny.ct2.generate_ids(
            [ids], no_repeat_ngram_size=0, early_stopping=False, **kwargs
        )
    with pytest.raises(ValueError, match="mode"):
        tiny.ct2.generate_ids([ids], no_repeat_ngram_size=0, mode="nucleus", **kwargs)
    with pytest.raises(ValueError, match="positions"):
        tiny.ct2.generate_ids([ids * 200], no_repeat_ngram_size=0, **kwargs)
    with pytest.raises(ValueError, match="empty"):
        tiny.ct2.generate_ids([[]], no_repeat_ngram_size=0, **kwargs)
