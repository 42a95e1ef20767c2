"""Generation settings and requests: frozen, validated value objects.

Length rules:

- A request may name its number of new tokens (the app's short, medium and
  long: 40, 100 and 200, from textgen.lengths).  Otherwise `max_new_tokens`
  applies (the app's default, 100), and if that is None, the original's
  rule: `max_length` counts the prompt, so a prompt of n tokens gets
  `max_length - n` new ones.
  The count always comes from the real prompt length, never from its bucket.
- `min_new_tokens` keeps the end token away for that many tokens.  The app
  asks for 20 so that a prompt ending in a full stop never gets an empty or
  three-word suggestion; `GenerationSettings.original()` has no minimum.
- Prompts are left-padded to the smallest *bucket* that holds them; XLA
  compiles one executable per bucket, batch size and mode, which takes the
  number of new tokens as a run-time input, so lengths cost no compile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .lengths import DEFAULT_LENGTH, LENGTHS, MODES

DEFAULT_BUCKETS = (16, 32, 64, 128, 256, 512, 768)
# The buckets compiled when a worker starts; longer prompts compile on first use.
DEFAULT_WARM_BUCKETS = (16, 32, 64)


def _check_range(name: str, value, low, high, kind=int) -> None:
    """Raise ValueError unless `value` is a `kind` in [low, high]."""
    ok_type = (int, float) if kind is float else int
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class GenerationSettings:
    """How text is generated; every autodoc records these with its model."""

    max_new_tokens: int | None = LENGTHS[DEFAULT_LENGTH]
    max_length: int = 100  # used only when max_new_tokens is None
    num_beams: int = 5
    no_repeat_ngram_size: int = 4
    early_stopping: bool = True
    min_new_tokens: int = 20
    top_p: float = 0.9
    temperature: float = 0.8
    # The most new tokens a request may ask for: it sizes the compiled buffers.
    longest: int = max(LENGTHS.values())
    length_buckets: tuple[int, ...] = DEFAULT_BUCKETS
    warm_buckets: tuple[int, ...] = DEFAULT_WARM_BUCKETS

    def __post_init__(self):
        if self.max_new_tokens is not None:
            _check_range("max_new_tokens", self.max_new_tokens, 1, self.longest)
        _check_range("max_length", self.max_length, 2, 4096)
        _check_range("num_beams", self.num_beams, 1, 16)
        _check_range("no_repeat_ngram_size", self.no_repeat_ngram_size, 0, 10)
        _check_range("min_new_tokens", self.min_new_tokens, 0, self.longest)
        _check_range("top_p", self.top_p, 0.01, 1.0, float)
        _check_range("temperature", self.temperature, 0.05, 5.0, float)
        _check_range("longest", self.longest, 1, 4096)
        if not isinstance(self.early_stopping, bool):
            raise ValueError(
                f"early_stopping must be a bool, got {self.early_stopping!r}"
            )
        for name in ("length_buckets", "warm_buckets"):
            self._check_buckets(name)

    @classmethod
    def original(cls, **overrides) -> GenerationSettings:
        """The original's call: max_length=100 counting the prompt, no minimum."""
        values = dict(max_new_tokens=None, min_new_tokens=0, longest=100)
        values.update(overrides)
        return cls(**values)

    def _check_buckets(self, name: str) -> None:
        buckets = tuple(getattr(self, name))
        if name == "length_buckets" and not buckets:
            raise ValueError("length_buckets must not be empty")
        for bucket in buckets:
            _check_range("length bucket", bucket, 1, 4096)
        if list(buckets) != sorted(set(buckets)):
            raise ValueError(f"{name} must be strictly increasing, got {buckets}")
        # Lists are accepted but stored as a tuple so the object stays hashable.
        object.__setattr__(self, name, buckets)

    def new_tokens(self, prompt_len: int, requested: int | None = None) -> int:
        """How many tokens to generate after a prompt of `prompt_len` tokens."""
        if requested is not None:
            return requested
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        return max(self.max_length - prompt_len, 1)

    @property
    def most_new_tokens(self) -> int:
        """The largest new-token count any request can get (buffer size)."""
        if self.max_new_tokens is None:
            return max(self.longest, self.max_length - 1)
        return self.longest

    def as_dict(self) -> dict:
        """A JSON-able dict (buckets as lists)."""
        data = asdict(self)
        for name in ("length_buckets", "warm_buckets"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict) -> GenerationSettings:
        """Inverse of as_dict; unknown keys are an error (ValueError)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown generation settings: {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class Request:
    """One prompt to continue: how long, beam or sample, and the sample's seed."""

    prompt: str
    new_tokens: int | None = None  # None: the settings decide
    mode: str = "beam"
    seed: int | None = None  # sample mode: the same seed gives the same text

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.new_tokens is not None:
            _check_range("new_tokens", self.new_tokens, 1, 4096)
        if self.mode == "sample":
            if self.seed is None:
                raise ValueError("sample mode needs a seed")
            _check_range("seed", self.seed, 0, 2**31 - 1)
