"""Each named drafter's mean D_TV to the target, measured once and cached.

The measurement: for each of the experiments' three prompts (raw text), the target's
autoregressive Gumbel path of ``MEASURE_TOKENS`` tokens with public seed 0; along it, one
teacher-forced pass of each drafter (as in the experiments); D_TV between their next-token
distributions at every position, averaged over the ``3 x MEASURE_TOKENS`` positions. It takes
a model load and about a second per drafter, so results are cached in the user cache
(``drafter_tv.json`` beside the model files), keyed by the target's identity, the drafter's
definition (with its adapter file's hash, if any) and the measurement's own settings; a
changed target, drafter or measurement gets a new key.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
from coupling.decoding.sampling import SamplingConfig
from coupling.outputs import write_json
from coupling.paper_repro.coupling_stats import tv_and_wmh
from coupling.paper_repro.drafters import DRAFTERS, adapter_path, make_drafter
from coupling.paper_repro.experiments import PROMPTS
from coupling.paper_repro.model import DEFAULT_TARGET, WHEEL_SHA256, cache_dir, encode_prompt
from coupling.paper_repro.paths import drafter_path_logits, sample_paths

__all__ = ["MEASURE_TOKENS", "cached_tv", "drafter_key", "measure_tv", "measured_tv"]

MEASURE_TOKENS = 32
_SPEC = {"prompts": PROMPTS, "tokens": MEASURE_TOKENS, "seed": 0, "coupling": "gumbel",
         "sampling": "temperature 1, all tokens", "version": 1}  # fmt: skip


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _target_identity(target, dtype):
    if target == DEFAULT_TARGET:
        return {"target": target, "wheel": WHEEL_SHA256, "dtype": dtype}
    path = Path(target)
    if not path.is_dir():
        return {"target": target, "dtype": dtype}  # a hub id: its name is all we know
    files = sorted(f for f in path.iterdir() if f.is_file())
    return {
        "target": str(path.resolve()),
        "dtype": dtype,
        "files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files],
    }


def drafter_key(target, dtype, name):
    """The cache key of drafter ``name``'s measurement against ``target`` at ``dtype``."""
    spec = DRAFTERS[name]
    definition = spec.definition()
    if spec.kind == "exit" and spec.params["adapter"]:
        path = adapter_path(spec.params["depth"])
        definition["adapter_sha256"] = _sha256(path) if path.exists() else None
    text = json.dumps([_target_identity(target, dtype), definition, _SPEC], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def measure_tv(loaded, names):
    """Mean D_TV of each drafter in ``names`` to ``loaded`` (see the module docstring)."""
    sampling = SamplingConfig()
    drafters = {name: make_drafter(name, loaded) for name in names}
    tvs = {name: [] for name in names}
    for prompt in PROMPTS:
        ids = encode_prompt(loaded.tokenizer, prompt, chat=False)
        paths, logits = sample_paths(loaded.model, ids, [(0, "gumbel")], MEASURE_TOKENS, sampling)
        p = np.array([sampling.probs(z) for z in logits[0]])
        for name, d in drafters.items():
            zq = drafter_path_logits(d, loaded.model, logits, ids, paths)[0]
            tvs[name] += list(tv_and_wmh(p, np.array([sampling.probs(z) for z in zq]))[0])
    return {name: float(np.mean(v)) for name, v in tvs.items()}


def _cache_file(cache):
    return Path(cache) if cache is not None else cache_dir() / "drafter_tv.json"


def cached_tv(target, dtype, names, *, cache=None):
    """The cached measurements of ``names``: {name: mean D_TV or None when not measured}.

    ``cache``: the JSON file (default ``drafter_tv.json`` in the user cache).
    """
    path = _cache_file(cache)
    stored = json.loads(path.read_text()) if path.exists() else {}
    return {n: stored.get(drafter_key(target, dtype, n), {}).get("mean_tv") for n in names}


def measured_tv(target, dtype, names, load, *, cache=None):
    """Mean D_TV of ``names``, measuring (after ``load()`` gives the target) only those not in
    the cache, and storing them; returns {name: mean D_TV}."""
    found = cached_tv(target, dtype, names, cache=cache)
    missing = [n for n, v in found.items() if v is None]
    if missing:
        fresh = measure_tv(load(), missing)
        path = _cache_file(cache)
        stored = json.loads(path.read_text()) if path.exists() else {}
        for name, value in fresh.items():
            stored[drafter_key(target, dtype, name)] = {"name": name, "mean_tv": value}
        write_json(path, stored)
        found |= fresh
    return found
