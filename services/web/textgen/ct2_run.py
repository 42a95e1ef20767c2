"""Generating with a converted CTranslate2 model: `CT2Runner` returns token ids.

`CT2Runner` loads the directory that ct2_convert.convert wrote with
ctranslate2.Generator.  Beam search reproduces transformers' TF `generate`
(eager.py) except in one point ct2 does not let us change: it bans tokens
(no-repeat n-grams, EOS before min_new_tokens) by masking logits *before*
its log-softmax, so a beam's next-token log-probs are renormalized over the
allowed tokens, where transformers applies its processors *after*
log_softmax and the banned mass is lost.  Scores then differ whenever a
banned token had real probability, and beams go another way: on the seed
model with the app's beam settings (5 beams, no-repeat 4, min 20, 50 new
tokens) none of the 20 FIXED_PROMPTS is identical to eager, the first
difference comes after 0-46 tokens (median 20).  With that one change made
to eager (a last processor that log-softmaxes again), float32 ct2 equals it
on all 20, token for token (tests/textgen/test_ct2.py checks it on fewer,
shorter runs).  The other differences are undone here for a prompt alone:
which hypothesis is returned (`CT2Runner._pick_beam`) and n-grams of the
prompt (`CT2Runner.split_prompt`).  Several beam prompts share one call,
where the n-gram rule differs a little more (`CT2Runner._beam_batch`).

For a running batch (backends.CT2RunningBatch) a prompt runs as its own
asynchronous one-prompt call (ct2_submission.Submission) beside the others,
on a pool of ctranslate2 replicas (`CT2Runner.replica_pool`): ctranslate2
cannot add a row to a search that is running, only start another call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from .ct2_submission import SEED_LOCK, Submission


class SearchPlan(NamedTuple):
    """A checked search: int prompts, its mode, ct2's options, the lengths
    (max new, min new, no-repeat n-gram size)."""

    prompts: list[list[int]]
    mode: str
    options: dict
    lengths: tuple[int, int, int]


def default_device() -> str:
    """The device for device="auto": cuda when ctranslate2 sees a GPU, else cpu."""
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class CT2Runner:
    """A converted model loaded in ctranslate2; prompts and results are token ids.

    `intra_threads` is ctranslate2's threads per generation (0: its default);
    give 1 when the process also runs TensorFlow on a small machine.
    """

    def __init__(
        self,
        model_dir,
        device: str = "auto",
        compute_type: str | None = None,
        *,
        intra_threads: int = 0,
    ):
        self.model_dir = Path(model_dir)
        self.device = default_device() if device == "auto" else device
        if compute_type is None:
            compute_type = "float16" if self.device == "cuda" else "int8"
        self.compute_type = compute_type
        self.intra_threads = intra_threads
        self.generator = self._new_generator()
        self._pools: dict[tuple[int, int], object] = {}
        self.tokens: list[str] = json.loads(
            (self.model_dir / "vocabulary.json").read_text(encoding="utf-8")
        )
        ct2_config = json.loads((self.model_dir / "config.json").read_text())
        self.eos_id = self.tokens.index(ct2_config["eos_token"])
        # ct2 does not put a start token equal to its BOS back into results.
        self.bos_id = self.tokens.index(ct2_config["bos_token"])
        try:
            self.metadata = json.loads((self.model_dir / "metadata.json").read_text())
        except (OSError, ValueError):
            self.metadata = {}

    def _new_generator(self, intra_threads: int | None = None, inter_threads=1):
        import ctranslate2

        return ctranslate2.Generator(
            str(self.model_dir),
            device=self.device,
            compute_type=self.compute_type,
            inter_threads=inter_threads,
            intra_threads=(
                self.intra_threads if intra_threads is None else intra_threads
            ),
        )

    def replica_pool(self, replicas: int, intra_threads: int):
        """A Generator that runs `replicas` calls at once, each on its own thread.

        ctranslate2's inter_threads: calls wait in its queue only while all
        replicas are busy.  One per (replicas, intra_threads), kept.
        """
        key = (replicas, intra_threads)
        if key not in self._pools:
            self._pools[key] = self._new_generator(intra_threads, replicas)
        return self._pools[key]

    def search_plan(
        self,
        prompts: list[list[int]],
        *,
        max_new_tokens: int,
        min_new_tokens: int,
        num_beams: int,
        no_repeat_ngram_size: int,
        early_stopping: bool = True,
        mode: str = "beam",
        top_p: float = 0.9,
        temperature: float = 0.8,
    ) -> SearchPlan:
        """The search that `generate_ids` and `submission` run, checked.

        Between `min_new_tokens` and `max_new_tokens` new tokens, EOS included
        in the count (as transformers' min_length / max_new_tokens).  Repeated
        n-grams are banned over prompt + continuation, as transformers does.

        mode="beam": beam search with `num_beams`, length penalty 1, and the
        result transformers' TF beam search would pick from the same
        hypotheses (`_pick_beam`).  Only early_stopping=True exists in ct2
        (stop once num_beams hypotheses ended).
        mode="sample": nucleus sampling over the full vocabulary (top_p,
        temperature).  ValueError for what ct2 or the model cannot do.
        """
        prompts = [[int(i) for i in prompt] for prompt in prompts]
        self._check(prompts, max_new_tokens, min_new_tokens, no_repeat_ngram_size)
        options = self._search_options(
            mode, num_beams, early_stopping, top_p, temperature
        )
        lengths = (max_new_tokens, min_new_tokens, no_repeat_ngram_size)
        return SearchPlan(prompts, mode, options, lengths)

    def generate_ids(
        self, prompts: list[list[int]], *, seeds: list[int] | None = None, **search
    ) -> list[list[int]]:
        """New token ids per prompt (prompt excluded, cut before the first EOS).

        `search`: the keyword arguments of `search_plan` (lengths, mode,
        beams, top_p, temperature).  A sampled prompt is reproducible from its
        entry in `seeds` (None: not reproducible, and cheaper, see
        `_sample_one`).

        One beam prompt, and every sampled one, is its own ct2 call that
        follows transformers' rules exactly (`_generate_one`); several beam
        prompts share one call (`_beam_batch`), whose no-repeat rule is
        slightly different.
        """
        plan = self.search_plan(prompts, **search)
        if plan.mode == "beam":
            return self._beam(plan.prompts, plan.options, *plan.lengths)
        if seeds is None:
            seeds = [None] * len(plan.prompts)  # not reproducible
        if len(seeds) != len(plan.prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(plan.prompts)} prompts")
        results = []
        for prompt, seed in zip(plan.prompts, seeds, strict=True):
            result, start = self._sample_one(prompt, seed, plan.options, *plan.lengths)
            results.append(self._sampled_ids(result, start))
        return results

    def submission(
        self,
        prompt: list[int],
        *,
        replicas,
        intra_threads: int,
        seed: int | None = None,
        **search,
    ) -> Submission:
        """One prompt to run on ctranslate2's threads, beside others (`Submission`).

        `search`: the keyword arguments of `search_plan`.  Its ids equal
        `generate_ids([prompt], seeds=[seed], **search)`: the same
        one-prompt call (`_generate_one`), only asynchronous.  Beam search and
        unseeded sampling run on `replicas` (`replica_pool`); a seeded sample
        gets its own Generator, as in `_sample_one`.  ValueError at once for
        what `generate_ids` would refuse.
        """
        plan = self.search_plan([prompt], **search)
        if plan.mode == "sample" and seed is not None:
            generator = self._new_generator(intra_threads)
        else:
            generator, seed = replicas, None
        return Submission(
            self, plan.prompts[0], plan.options, plan.lengths, generator, seed
        )

    def _search_options(self, mode, num_beams, early_stopping, top_p, temperature):
        """ctranslate2's search arguments for `mode`; ValueError for what it lacks."""
        if mode == "beam":
            if num_beams < 1:
                raise ValueError(f"num_beams must be >= 1, got {num_beams}")
            if num_beams > 1 and not early_stopping:
                raise ValueError(
                    "ctranslate2's beam search always stops once num_beams "
                    "hypotheses are finished (early_stopping=True)"
                )
            return dict(
                beam_size=num_beams,
                num_hypotheses=num_beams,
                length_penalty=1.0,
                return_scores=True,
            )
        if mode == "sample":
            if not 0.0 < top_p <= 1.0:
                raise ValueError(f"top_p must be in (0, 1], got {top_p}")
            if temperature <= 0.0:
                raise ValueError(f"temperature must be > 0, got {temperature}")
            return dict(
                beam_size=1,
                sampling_topk=0,  # 0: the whole vocabulary, cut by top_p only
                sampling_topp=float(top_p),
                sampling_temperature=float(temperature),
            )
        raise ValueError(f"mode must be 'beam' or 'sample', got {mode!r}")

    def _sampled_ids(self, result, start: list[int]) -> list[int]:
        return self._strip(self._new_tokens(start, result.sequences_ids[0]))

    def _beam_alone_ids(self, result, start: list[int]) -> list[int]:
        """transformers' pick among the hypotheses of a one-prompt beam call."""
        hypotheses = [self._new_tokens(start, s) for s in result.sequences_ids]
        return self._pick_beam(hypotheses, result.scores, len(start) - 1)

    # -- helpers -----------------------------------------------------------

    def _check(self, prompts, max_new_tokens, min_new_tokens, ngram) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if not 0 <= min_new_tokens <= max_new_tokens:
            raise ValueError(
                f"min_new_tokens must be in [0, {max_new_tokens}], got {min_new_tokens}"
            )
        if ngram < 0:
            raise ValueError(f"no_repeat_ngram_size must be >= 0, got {ngram}")
        n_positions = self.metadata.get("n_positions")
        for prompt in prompts:
            if not prompt:
                raise ValueError("empty prompt: GPT-2 needs at least one token")
            if min(prompt) < 0 or max(prompt) >= len(self.tokens):
                raise ValueError("prompt token id outside the vocabulary")
            if n_positions and len(prompt) + max_new_tokens > n_positions:
                raise ValueError(
                    f"{len(prompt)} prompt + {max_new_tokens} new tokens exceed "
                    f"the model's {n_positions} positions"
                )

    def _sample_one(self, prompt, seed, options, max_new, min_new, ngram):
        """One sampled continuation that depends on (seed, prompt) only.

        seed None: any draw, on the runner's own Generator.

        One prompt per call: the draws of a batch come from one random
        stream, so a prompt's tokens would depend on its batch neighbours
        and on when they finish.

        ctranslate2.set_random_seed alone is not enough (checked with 4.8.5):
        each worker thread builds its own random generator (thread_local,
        also the CUDA curand states) from the global seed the first time it
        samples and never reseeds it, so a Generator that has sampled once
        ignores later seeds.  The seeded call therefore runs on a fresh
        Generator, whose new worker thread seeds its generator from `seed`
        at its first draw.  That costs one model load per prompt (7 ms for
        the 21 MB seed model on CPU).  The lock keeps other threads from
        changing the global seed in between.
        """
        import ctranslate2

        if seed is None:
            return self._generate_one(prompt, options, max_new, min_new, ngram)
        with SEED_LOCK:
            ctranslate2.set_random_seed(int(seed) % 2**32)
            generator = self._new_generator()
            try:
                return self._generate_one(
                    prompt, options, max_new, min_new, ngram, generator=generator
                )
            finally:
                del generator

    @staticmethod
    def split_prompt(prompt: list[int], ngram: int):
        """(static prompt, start tokens, n-grams to suppress) for one prompt.

        transformers bans an n-gram repeated anywhere in prompt +
        continuation.  ct2's no-repeat check only scans the tokens produced by
        its decoding loop: not a static_prompt (forwarded in one pass), not
        the first start token.  So the prompt is cut in two:

        - static: all but the last max(ngram, 1) tokens, forwarded at once
          (a long prompt costs one forward pass, not one step per token);
        - start: the rest; with include_prompt_in_result=True ct2 runs these
          through its loop (constrained), so all but the first of them are in
          the scanned sequence.  ngram - 1 of them hold every context (last
          n - 1 tokens) a continuation step can have;
        - suppress: the prompt n-grams that start in the static part or at
          the first start token, which the scan cannot see; ct2's
          suppress_sequences bans their last token after their first n - 1.

        A prompt shorter than ngram is not cut; the one n-gram that begins at
        its first token and runs into the continuation is then not banned.
        """
        tail = max(ngram, 1)
        if len(prompt) <= tail:
            static, start = [], list(prompt)
        else:
            static, start = list(prompt[:-tail]), list(prompt[-tail:])
        suppress = []
        if ngram:
            for first in range(min(len(static), len(prompt) - ngram) + 1):
                gram = prompt[first : first + ngram]
                if gram not in suppress:
                    suppress.append(gram)
        return static, start, suppress

    def _generate_one(
        self, prompt, options, max_new, min_new, ngram, generator=None, **call
    ):
        """One ct2 generate_batch call for one prompt: (GenerationResult, start).

        One prompt per call because static_prompt and suppress_sequences
        apply to a whole call (see split_prompt).  Lengths: with
        include_prompt_in_result=True ct2's max_length and min_length count
        the start tokens after the first (the constrained loop "generates"
        them) and not the static prompt, so both get len(start) - 1 added.
        return_end_token=True keeps the EOS that tells a finished hypothesis.
        `call`: more generate_batch arguments (asynchronous, callback).
        """
        static, start, suppress = self.split_prompt(prompt, ngram)
        kwargs = dict(options, **call)
        if static:
            kwargs.update(
                static_prompt=[self.tokens[i] for i in static],
                cache_static_prompt=False,
            )
        if suppress:
            kwargs["suppress_sequences"] = [
                [self.tokens[i] for i in gram] for gram in suppress
            ]
        offset = len(start) - 1
        (result,) = (generator or self.generator).generate_batch(
            [[self.tokens[i] for i in start]],
            max_length=offset + max_new,
            min_length=offset + min_new,
            no_repeat_ngram_size=ngram,
            include_prompt_in_result=True,
            return_end_token=True,
            **kwargs,
        )
        return result, start

    def _beam(self, prompts, options, max_new, min_new, ngram):
        """Beam search: a prompt alone by transformers' rules, several in one call.

        ct2 forwards only as many tokens as the shortest prompt of a call has
        and runs the rest of a longer prompt through its loop, and then
        ignores min_length (checked with 4.8.5: prompts of 3, 5 and 7 tokens
        with min_length 9 ended after 1-2 tokens; equal lengths got their 9).
        So with a minimum, prompts share a call only with prompts of their
        length.
        """
        lengths = (max_new, min_new, ngram)
        groups: dict[int, list[int]] = {}
        for index, prompt in enumerate(prompts):
            groups.setdefault(len(prompt) if min_new else 0, []).append(index)
        results: list = [None] * len(prompts)
        for members in groups.values():
            if len(members) > 1:
                group = [prompts[i] for i in members]
                outputs = self._beam_batch(group, options, *lengths)
            else:
                result, start = self._generate_one(
                    prompts[members[0]], options, *lengths
                )
                outputs = [self._beam_alone_ids(result, start)]
            for index, output in zip(members, outputs, strict=True):
                results[index] = output
        return results

    def _beam_batch(self, prompts, options, max_new, min_new, ngram):
        """Beam search for several prompts in one ct2 call, what ct2 is fast at.

        A call has one suppress_sequences list and no per-prompt static
        prompt, so two rules differ from one prompt alone (`_generate_one`):

        - the n-grams of every prompt in the call are banned for every
          prompt: a continuation can also not repeat another prompt's n-gram;
        - an n-gram that starts in the prompt and ends in the continuation is
          not banned: ct2 forwards the prompts at once
          (include_prompt_in_result=False), so its no-repeat and suppress
          checks only see the new tokens.

        Scores are normalized by the new tokens alone here, as transformers does.
        """
        suppress: dict[tuple[int, ...], None] = {}
        if ngram:
            for prompt in prompts:
                for first in range(len(prompt) - ngram + 1):
                    suppress[tuple(prompt[first : first + ngram])] = None
        kwargs = dict(options)
        if suppress:
            kwargs["suppress_sequences"] = [
                [self.tokens[i] for i in gram] for gram in suppress
            ]
        results = self.generator.generate_batch(
            [[self.tokens[i] for i in prompt] for prompt in prompts],
            max_length=max_new,
            min_length=min_new,
            no_repeat_ngram_size=ngram,
            include_prompt_in_result=False,
            return_end_token=True,
            **kwargs,
        )
        return [
            self._pick_beam([list(s) for s in r.sequences_ids], r.scores)
            for r in results
        ]

    def _new_tokens(self, start: list[int], sequence) -> list[int]:
        """The continuation part of a ct2 sequence (which holds `start`)."""
        sequence = list(sequence)
        # ct2 leaves out a first start token equal to its BOS token.
        shown = start[1:] if start[0] == self.bos_id else start
        if sequence[: len(shown)] != shown:
            raise RuntimeError("ctranslate2 returned a sequence without its prompt")
        return sequence[len(shown) :]

    def _strip(self, tokens: list[int]) -> list[int]:
        return tokens[: tokens.index(self.eos_id)] if self.eos_id in tokens else tokens

    def _pick_beam(self, hypotheses, scores, offset: int = 0) -> list[int]:
        """Choose among ct2's hypotheses the one transformers' TF beam search returns.

        `hypotheses` are the new tokens of each (EOS kept).  ct2 ranks them by
        score / length where length counts the new tokens with the EOS plus
        `offset` (the start tokens after the first, when its loop ran them);
        transformers divides by the new tokens with the EOS only.  And at max
        length transformers returns the best *finished* hypothesis (ended
        with EOS) whenever there is one, where ct2 also ranks the beams still
        running.  So: undo ct2's normalization, redo transformers', prefer
        finished hypotheses.  (ct2 returns its best num_beams by its own
        ranking; transformers' choice could only be missing from them when
        its lengths differ from the others' a lot.)
        """
        candidates = []
        for new, score in zip(hypotheses, scores, strict=True):
            if not new:
                continue
            total = score * (offset + len(new))  # sum of log-probs of the new tokens
            candidates.append((new[-1] == self.eos_id, total / len(new), new))
        finished = [c for c in candidates if c[0]]
        best = max(finished or candidates, key=lambda c: c[1])
        return self._strip(best[2])
