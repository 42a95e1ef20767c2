"""The team's model: consented training data, the model registry, fine-tuning jobs.

Only approved documents whose sponsor consented are ever used (dataset.py);
a model trained on some sponsors' documents serves only them (registry.py).
"""
