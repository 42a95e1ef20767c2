"""GenerationSettings: defaults, validation, the length rule."""

import pytest

from textgen import GenerationSettings
from textgen.settings import Request


def test_defaults_are_the_apps_and_original_is_the_originals():
    settings = GenerationSettings()
    assert (settings.max_new_tokens, settings.num_beams) == (100, 5)
    assert settings.no_repeat_ngram_size == 4
    assert settings.early_stopping is True
    assert settings.min_new_tokens == 20
    assert (settings.top_p, settings.temperature) == (0.9, 0.8)
    assert settings.length_buckets == (16, 32, 64, 128, 256, 512, 768)
    original = GenerationSettings.original()
    assert (original.max_new_tokens, original.max_length) == (None, 100)
    assert original.min_new_tokens == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_beams", 0),
        ("num_beams", 17),
        ("max_length", 1),
        ("max_new_tokens", 0),
        ("max_new_tokens", 201),
        ("top_p", 0),
        ("temperature", 0.0),
        ("no_repeat_ngram_size", -1),
        ("no_repeat_ngram_size", 11),
        ("min_new_tokens", -1),
        ("min_new_tokens", 201),
        ("early_stopping", "yes"),
        ("num_beams", 2.5),
        ("num_beams", True),
        ("length_buckets", ()),
        ("length_buckets", (32, 16)),
        ("length_buckets", (0, 16)),
    ],
)
def test_bad_values_are_rejected(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        GenerationSettings(**{field: value})


def test_as_dict_round_trip_and_json():
    import json

    settings = GenerationSettings(num_beams=3, length_buckets=[8, 16])
    data = json.loads(json.dumps(settings.as_dict()))
    assert GenerationSettings.from_dict(data) == settings
    assert settings.length_buckets == (8, 16)
    with pytest.raises(ValueError, match="unknown"):
        GenerationSettings.from_dict({"heat": 1.0})


def test_new_tokens_come_from_the_request_or_the_real_prompt_length():
    settings = GenerationSettings()
    assert settings.new_tokens(17) == 100
    assert settings.new_tokens(700, requested=40) == 40
    original = GenerationSettings.original()
    # The original's max_length counts the real prompt, not its bucket.
    assert original.new_tokens(17) == 83
    assert original.new_tokens(64) == 36
    assert original.new_tokens(150) == 1


@pytest.mark.parametrize(
    "values",
    [
        dict(mode="greedy"),
        dict(mode="sample"),  # no seed
        dict(mode="sample", seed=-1),
        dict(new_tokens=0),
    ],
)
def test_bad_requests_are_rejected(values):
    with pytest.raises(ValueError):
        Request("a prompt", **values)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        GenerationSettings().num_beams = 3
