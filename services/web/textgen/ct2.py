"""The CTranslate2 backend's public names, from the modules that define them.

ct2_convert: a GPT-2 checkpoint into a ctranslate2 model (numpy only).
ct2_run: `CT2Runner`, generation with a converted model.
ct2_submission: one prompt running beside others (`Submission`, `SeedHold`).
"""

from .ct2_convert import TOKENIZER_FILES, build_spec, convert
from .ct2_run import CT2Runner, default_device
from .ct2_submission import SeedHold, Submission

__all__ = [
    "CT2Runner",
    "SeedHold",
    "Submission",
    "TOKENIZER_FILES",
    "build_spec",
    "convert",
    "default_device",
]
