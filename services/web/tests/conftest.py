"""For every test: TensorFlow's runtime settings, before any test loads it.

The test processes run the engine as the worker does, so they set up the
runtime as the worker does (textgen.runtime), before TensorFlow is imported.
"""

from textgen import runtime

runtime.setup()
