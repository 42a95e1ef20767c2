"""What both engines share: requests in, continuations out, the same windows."""

from __future__ import annotations

from .prompts import PreparedPrompt, prepare_prompt, prompt_window
from .settings import Request


class TextGenerator:
    """Base of the TF and CTranslate2 engines; subclasses set tokenizer,
    settings and n_positions, and implement generate_ids."""

    def _check_settings_fit(self) -> None:
        """ValueError when not even the smallest bucket fits the context."""
        buckets = self.settings.length_buckets
        prompt_window(buckets, self.n_positions, self.settings.new_tokens(buckets[0]))

    def prepare(self, prompt: str, new_tokens: int | None = None) -> PreparedPrompt:
        """Validate, tokenize, cut to the window and bucket one prompt."""
        return prepare_prompt(
            self.tokenizer, prompt, self.settings, self.n_positions, new_tokens
        )

    def generate(self, requests, on_compile=None) -> list[str]:
        """The continuation (prompt excluded) of every request, in order.

        `requests` are prompts (str) or Request objects.  `on_compile(bucket,
        batch_size, mode)` is called before a program's first run, which
        compiles it (seconds to a minute): the worker says so to the user.
        """
        return [
            self.tokenizer.decode(ids, skip_special_tokens=True)
            for ids in self.generate_ids(requests, on_compile)
        ]

    def generate_ids(self, requests, on_compile=None) -> list[list[int]]:
        raise NotImplementedError

    def running_batch(self, rows: int = 8):
        """A batch that requests join and leave while it runs (running.py).

        This engine-neutral kind runs what was admitted as one `generate`
        call; engines that can do better return their own.
        """
        from .running import StaticBatch

        return StaticBatch(self, rows)

    def _prepared(self, requests) -> tuple[list[Request], list[PreparedPrompt]]:
        """Requests (prompts become beam requests) and their prepared prompts."""
        if isinstance(requests, str | Request):
            raise TypeError("generate() takes a list of prompts, not one")
        requests = [r if isinstance(r, Request) else Request(r) for r in requests]
        return requests, [self.prepare(r.prompt, r.new_tokens) for r in requests]
