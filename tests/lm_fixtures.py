"""Tiny randomly initialised language models for decoding tests (built offline), a word-level
tokenizer built locally, and model directories that ``load_model`` reads like any HF model."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = 24
#: The word-level vocabulary: specials, the experiments' prompt words, fillers up to VOCAB.
WORDS = ("[UNK]", "<bos>", "<eos>", "What", "is", "the", "Traveling", "Salesman", "Problem",
         "(", "TSP", ")", "?", "post", "-", "quantum", "cryptography", "lower", "bound", "for",
         "sorting", "user", "assistant", ":")  # fmt: skip
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}assistant :{% endif %}"
)


@pytest.fixture
def one_torch_thread():
    """Run on one torch thread: tiny models spend their time synchronising threads, which on
    a loaded machine costs ten times the arithmetic."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


def tiny_gemma2(seed, layers=2, vocab=VOCAB, scale=1.0):
    """A float32 Gemma2ForCausalLM with random weights (soft-capping, sliding window)."""
    cfg = transformers.Gemma2Config(vocab_size=vocab, hidden_size=32, intermediate_size=64,
                                    num_hidden_layers=layers, num_attention_heads=4,
                                    num_key_value_heads=2, head_dim=8, sliding_window=64,
                                    query_pre_attn_scalar=8, max_position_embeddings=256,
                                    pad_token_id=0, bos_token_id=1, eos_token_id=2)  # fmt: skip
    torch.manual_seed(seed)
    model = transformers.Gemma2ForCausalLM(cfg)
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)
    model.eval()
    model.requires_grad_(False)
    return model


def word_tokenizer(vocab=VOCAB):
    """A word-level fast tokenizer over the first ``vocab`` of :data:`WORDS` (fillers ``w<i>``
    past them; whitespace and punctuation split) with a BOS token and a small chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    words = list(WORDS[:vocab]) + [f"w{i}" for i in range(len(WORDS), vocab)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A",
                                                       special_tokens=[("<bos>", 1)])  # fmt: skip
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                                bos_token="<bos>", eos_token="<eos>",
                                                pad_token="[UNK]")  # fmt: skip
    fast.chat_template = CHAT_TEMPLATE
    return fast


def char_tokenizer(vocab=VOCAB):
    """A character-level fast tokenizer (BPE without merges over ``a, b, c, ...``, tokens fused
    back into text) with the specials of :func:`word_tokenizer`: any lowercase text of its
    letters encodes, so transformers' stop-string matching can read it."""
    from tokenizers import Tokenizer, decoders, models

    letters = [chr(ord("a") + i) for i in range(vocab - 3)]
    tok = Tokenizer(models.BPE({w: i for i, w in enumerate(["[UNK]", "<bos>", "<eos>", *letters])},
                               merges=[], unk_token="[UNK]"))  # fmt: skip
    tok.decoder = decoders.Fuse()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                                bos_token="<bos>", eos_token="<eos>",
                                                pad_token="[UNK]")  # fmt: skip


def save_model(model, directory):
    """Save ``model`` with the word tokenizer of its vocabulary, as a directory ``load_model``
    reads like any HF model; returns the directory as a str."""
    from coupling.paper_repro.model import quiet_transformers

    with quiet_transformers():
        model.save_pretrained(directory)
        word_tokenizer(model.config.vocab_size).save_pretrained(directory)
    return str(directory)


def saved_tiny_model(path, seed, vocab=VOCAB):
    """A two-layer tiny Llama and its word tokenizer saved in ``path`` (returned as a str)."""
    return save_model(tiny_llama(seed, layers=2, vocab=vocab), path)
