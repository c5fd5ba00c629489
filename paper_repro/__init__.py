"""The paper's language-model experiments: the default model (SmolLM2), its drafters, the
coupling, block-efficiency and invariance experiments and their summaries, all decoding
through the engine in :mod:`coupling.decoding`."""
