"""Generation settings: one frozen, validated value object.

Length rule (documented here because the fast path needs fixed shapes):
prompts are left-padded to the smallest *length bucket* that holds them, and
the number of new tokens is

    new_tokens = max(max_length - bucket, min_new_tokens)

so `max_length` keeps the original's meaning (total tokens including the
prompt, the prompt counted at its bucket length) while a long prompt still
gets `min_new_tokens`.  One bucket therefore means one compiled program.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULT_BUCKETS = (16, 32, 64)


def _check_range(name: str, value, low: int, high: int) -> None:
    """Raise ValueError unless `value` is an int in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class GenerationSettings:
    """How text is generated; every autodoc records these with its model."""

    max_length: int = 100
    num_beams: int = 5
    no_repeat_ngram_size: int = 4
    early_stopping: bool = True
    min_new_tokens: int = 20
    length_buckets: tuple[int, ...] = DEFAULT_BUCKETS

    def __post_init__(self):
        _check_range("max_length", self.max_length, 2, 1024)
        _check_range("num_beams", self.num_beams, 1, 16)
        _check_range("no_repeat_ngram_size", self.no_repeat_ngram_size, 0, 10)
        # At least one new token: an empty continuation is never stored.
        _check_range("min_new_tokens", self.min_new_tokens, 1, self.max_length)
        if not isinstance(self.early_stopping, bool):
            raise ValueError(
                f"early_stopping must be a bool, got {self.early_stopping!r}"
            )
        self._check_buckets()

    def _check_buckets(self) -> None:
        buckets = tuple(self.length_buckets)
        if not buckets:
            raise ValueError("length_buckets must not be empty")
        for bucket in buckets:
            _check_range("length bucket", bucket, 1, 1024)
        if list(buckets) != sorted(set(buckets)):
            raise ValueError(
                f"length_buckets must be strictly increasing, got {buckets}"
            )
        # Lists are accepted but stored as a tuple so the object stays hashable.
        object.__setattr__(self, "length_buckets", buckets)

    def new_tokens(self, bucket: int) -> int:
        """Number of tokens generated for a prompt padded to `bucket`."""
        return max(self.max_length - bucket, self.min_new_tokens)

    def as_dict(self) -> dict:
        """A JSON-able dict (buckets as a list)."""
        data = asdict(self)
        data["length_buckets"] = list(self.length_buckets)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> GenerationSettings:
        """Inverse of as_dict; unknown keys are an error (ValueError)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown generation settings: {sorted(unknown)}")
        values = dict(data)
        if "length_buckets" in values:
            values["length_buckets"] = tuple(values["length_buckets"])
        return cls(**values)
