"""Autoregressive paths of the target, sampled in batches, with every drafter in lockstep.

DISD emits the target's autoregressive tokens whatever the drafter, and a draft at position t
is accepted iff the drafter's coupled sample at t equals the target's given the true prefix.
So everything the experiments need is a function of the target's autoregressive path and of
the drafters' next-token distributions along it. :func:`lockstep` samples a batch of such paths
(one per (seed, coupling) row, all continuing the same prompt) and feeds the same tokens to every
drafter, handing the target's and the drafters' distributions at each position to a callback.

A drafter that is the target at another temperature costs nothing here: it reuses the
target's logits. Each model runs one batched forward pass per position, with its own KV cache.
"""

from paper_repro.decoders import reference_rule

__all__ = ["BatchedLM", "lockstep"]


class BatchedLM:
    """Next-token logits of a batch of equal-length sequences, one new token per row per step.

    Parameters
    ----------
    model : transformers causal LM, in eval mode
    """

    def __init__(self, model):
        self.model = model
        self._cache = None

    def start(self, prompt_ids, batch):
        """Feed ``prompt_ids`` to ``batch`` rows; float64 logits (batch, V) of the next token."""
        import torch
        from transformers import DynamicCache

        self._cache = DynamicCache(config=self.model.config)
        ids = torch.tensor([list(prompt_ids)] * batch, device=self._device())
        return self._forward(ids)

    def step(self, tokens):
        """Append one token per row; float64 logits (batch, V) of the following token."""
        import torch

        ids = torch.tensor([[int(t)] for t in tokens], device=self._device())
        return self._forward(ids)

    def _device(self):
        return self.model.get_output_embeddings().weight.device

    def _forward(self, ids):
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=ids, past_key_values=self._cache, use_cache=True,
                             logits_to_keep=1)  # fmt: skip
        return out.logits[:, -1].to(torch.float64).cpu().numpy()


def lockstep(target_model, drafters, prompt_ids, rows, tokens, sampling, on_position):
    """Sample one autoregressive path of the target per row and score every drafter along it.

    Parameters
    ----------
    target_model : transformers causal LM
    drafters : dict name -> drafter
        Drafters with ``lm.model`` and ``temperature`` (:class:`~paper_repro.drafters.
        ModelDrafter`); one whose model is ``target_model`` reuses the target's logits.
    prompt_ids : list of int
    rows : list of (seed, coupling)
        Row r's token at position t is ``reference_rule(seed, coupling).sample(p_t, t)``, the
        token autoregressive decoding (and DISD) with that seed emits.
    tokens : int
        Path length.
    sampling : SamplingConfig
        Applied to the target's and (after the temperature) every drafter's logits.
    on_position : callable
        ``on_position(t, r, p, qs, y)`` for every position t and row r: ``p`` the target's
        distribution, ``qs`` dict name -> the drafter's distribution, ``y`` the emitted token.

    Returns
    -------
    list of list of int: each row's path.
    """
    if not rows:
        raise ValueError("lockstep needs at least one (seed, coupling) row")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"tokens must be an int >= 1, got {tokens!r}")
    rules = [reference_rule(seed, coupling) for seed, coupling in rows]
    models = {}  # id -> BatchedLM, one per distinct model
    for d in drafters.values():
        if d.lm.model is not target_model:
            models.setdefault(id(d.lm.model), BatchedLM(d.lm.model))
    target = BatchedLM(target_model)
    batch = len(rows)
    logits = {"target": target.start(prompt_ids, batch)}
    for key, lm in models.items():
        logits[key] = lm.start(prompt_ids, batch)
    paths = [[] for _ in rows]
    for t in range(tokens):
        chosen = []
        for r, rule in enumerate(rules):
            p = sampling.probs(logits["target"][r])
            qs = {}
            for name, d in drafters.items():
                own = logits["target"] if d.lm.model is target_model else logits[id(d.lm.model)]
                qs[name] = sampling.probs(own[r] / d.temperature)
            y = rule.sample(p, t)
            on_position(t, r, p, qs, y)
            paths[r].append(y)
            chosen.append(y)
        if t + 1 < tokens:
            logits["target"] = target.step(chosen)
            for key, lm in models.items():
                logits[key] = lm.step(chosen)
    return paths
