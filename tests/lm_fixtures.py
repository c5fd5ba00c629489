"""Tiny randomly initialised Llama models for decoding tests (built offline, float64)."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = 24


def tiny_llama(seed, layers=4, vocab=VOCAB, scale=1.0):
    """A float64 LlamaForCausalLM with random weights; ``scale`` sharpens the logits."""
    cfg = transformers.LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=layers, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=128,
                                   tie_word_embeddings=False)  # fmt: skip
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(cfg).to(torch.float64)
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)
    model.eval()
    model.requires_grad_(False)
    return model
