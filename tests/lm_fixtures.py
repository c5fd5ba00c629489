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


def word_tokenizer(vocab=VOCAB):
    """A word-level fast tokenizer over w0 .. w{vocab-3}, <unk> and <eos>, built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = {"<unk>": 0, "<eos>": 1} | {f"w{i}": i + 2 for i in range(vocab - 2)}
    tok = Tokenizer(models.WordLevel(words, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>"
    )


def saved_tiny_model(path, seed, vocab=VOCAB):
    """A tiny Llama and its word-level tokenizer saved in ``path`` (returned as a str)."""
    from paper_repro.model import quiet_transformers

    with quiet_transformers():
        tiny_llama(seed, layers=2, vocab=vocab).save_pretrained(path)
        word_tokenizer(vocab).save_pretrained(path)
    return str(path)
