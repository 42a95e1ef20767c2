"""textgen: the machine-text engine (GPT-2, TensorFlow, XLA).  Never imports Flask.

runtime.setup()                      # once, before TensorFlow is imported
gen = load_generator(reference, backend="tf")  # or backend="ctranslate2"
gen.generate(["prompt one", "two"])  # continuations, batched internally
gen.generate([Request("prompt", new_tokens=40, mode="sample", seed=7)])

Importing the package imports nothing else and changes nothing: its names
load on first use, so `textgen.lengths` stays light enough for the web
processes, and a worker on the ctranslate2 backend never loads TensorFlow.
"""

from importlib import import_module

# Public name -> the module that defines it.
_EXPORTS = {
    "GenerationSettings": "settings",
    "Generator": "engine",
    "load_generator": "backends",
    "ModelInfo": "loading",
    "ModelLoadError": "loading",
    "resolve_model_reference": "loading",
}


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
