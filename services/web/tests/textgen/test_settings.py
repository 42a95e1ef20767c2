"""GenerationSettings: defaults, validation, the length rule."""

import pytest

from textgen import GenerationSettings


def test_defaults_match_the_original():
    settings = GenerationSettings()
    assert (settings.max_length, settings.num_beams) == (100, 5)
    assert settings.no_repeat_ngram_size == 4
    assert settings.early_stopping is True
    assert settings.min_new_tokens == 20


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_beams", 0),
        ("num_beams", 17),
        ("max_length", 1),
        ("max_length", 1025),
        ("no_repeat_ngram_size", -1),
        ("no_repeat_ngram_size", 11),
        ("min_new_tokens", 0),
        ("min_new_tokens", 101),
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
        GenerationSettings.from_dict({"temperature": 1.0})


def test_new_tokens_rule_keeps_min_new_tokens_for_long_prompts():
    settings = GenerationSettings(max_length=100, min_new_tokens=20)
    assert settings.new_tokens(16) == 84
    assert settings.new_tokens(64) == 36
    assert settings.new_tokens(96) == 20


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        GenerationSettings().num_beams = 3
