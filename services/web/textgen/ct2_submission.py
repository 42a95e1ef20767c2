"""One prompt running on ctranslate2's threads beside others, and the seed it holds.

ctranslate2 cannot add a row to a search that is running, only start
another call: a running batch (backends.CT2RunningBatch) is a set of
`Submission`s, one asynchronous one-prompt call each.  ctranslate2's random
generator is process-wide, so a seeded call holds the seed (`SeedHold`,
`SEED_LOCK`) from its start to its first drawn token.
"""

from __future__ import annotations

import threading

# ctranslate2's random generator is process-wide: seeding and sampling must
# not interleave between threads.
SEED_LOCK = threading.Lock()


class Submission:
    """One prompt for ctranslate2's worker threads: `start`, poll `done`, `ids`.

    ctranslate2 cannot add a row to a search that runs: each call decodes its
    own batch from start to end.  What it can do is run several calls at
    once (a Generator's inter_threads replicas, or several Generators) and
    tell, without blocking, whether one has ended (AsyncGenerationResult
    .done()).  A running batch is therefore a set of one-prompt calls: a
    prompt starts as soon as it is submitted and ends on its own, and its
    result is the one-prompt call's, as `generate_ids([prompt])` gives it.

    A seeded sample runs on its own Generator, whose new worker thread seeds
    its random generator from ctranslate2's global seed at its first draw
    (`_sample_one`).  So the global seed must stay put from `start` until
    that draw (`SeedHold`).
    """

    def __init__(self, runner, prompt, options, lengths, generator, seed):
        self.runner = runner
        self.prompt = prompt
        self.options = options
        self.lengths = lengths
        self.generator = generator
        self.seed = seed
        self.sampled = options["beam_size"] == 1
        self._pending = None  # ctranslate2's AsyncGenerationResult once started
        self._start_tokens = runner.split_prompt(prompt, lengths[2])[1]
        # The forced steps replay the start tokens after the first.
        self._seed_hold = SeedHold(len(self._start_tokens) - 1)
        self._ids: list[int] | None = None
        self._error: Exception | None = None

    @property
    def started(self) -> bool:
        return self._pending is not None

    def start(self) -> bool:
        """Submit the call; False while another seeded prompt holds the seed."""
        if self.seed is None:
            self._submit()
            return True
        if not self._seed_hold.take(self.seed):
            return False
        try:
            self._submit(callback=self._seed_hold.on_token)
        except BaseException:
            self._seed_hold.release()
            raise
        return True

    def done(self) -> bool:
        """True once the call has ended (with its result or its error)."""
        return self._pending is not None and self._pending.done()

    def ids(self) -> list[int]:
        """The new token ids; raises the call's error.  Only once `done()`."""
        if self.error() is not None:
            raise self.error()
        return self._ids

    def error(self) -> Exception | None:
        """The call's error, or None once it has ended well.  Only once `done()`."""
        if self._ids is None and self._error is None:
            try:
                result = self._pending.result()
                if self.sampled:
                    self._ids = self.runner._sampled_ids(result, self._start_tokens)
                else:
                    self._ids = self.runner._beam_alone_ids(result, self._start_tokens)
            except Exception as exc:  # noqa: BLE001 - kept for ids() to raise
                self._error = exc
            finally:
                self._seed_hold.release()
                self.generator = None  # a seeded sample's own Generator goes
        return self._error

    def _submit(self, **call) -> None:
        self._pending, _ = self.runner._generate_one(
            self.prompt,
            self.options,
            *self.lengths,
            generator=self.generator,
            asynchronous=True,
            **call,
        )


class SeedHold:
    """ctranslate2's global seed, held from a seeded call's start to its first draw.

    `take` sets the seed under the seed lock, without waiting (False: another
    seeded call is starting); ctranslate2 calls `on_token` on its worker
    thread after every step, and the first step past the `forced_steps`
    (the prompt's start tokens, replayed) was drawn: the lock is given back.
    The callback holds this object only, never the Submission: ctranslate2
    drops it on its worker thread, and a Generator whose last reference went
    there would be joined from its own thread.
    """

    def __init__(self, forced_steps: int):
        self.forced_steps = forced_steps
        self._held = False
        self._once = threading.Lock()

    def take(self, seed: int) -> bool:
        import ctranslate2

        if not SEED_LOCK.acquire(blocking=False):
            return False
        self._held = True
        ctranslate2.set_random_seed(int(seed) % 2**32)
        return True

    def on_token(self, step) -> bool:
        """ctranslate2's per-token callback; False: go on decoding."""
        if step.step >= self.forced_steps:
            self.release()
        return False

    def release(self) -> None:
        with self._once:
            if self._held:
                self._held = False
                SEED_LOCK.release()
