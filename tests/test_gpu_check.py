"""benchmarks/gpu_check.py on the CPU, small: the accelerator check's code paths run in CI."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


def test_gpu_check_runs_on_the_cpu():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = []
    summary = module.run("cpu", small=True, out=lines.append)
    text = "\n".join(lines)
    assert summary["failures"] == 0, text
    for label in ("llama-float32", "gemma2-float32", "llama-bfloat16", "gemma2-bfloat16"):
        assert summary["sequences"][label] > 0
    for label in ("llama-float32", "gemma2-float32"):  # no floating-point flips in float32
        assert summary["differing"][label] == 0, text
        assert summary["engine rows"][label] == 13 and summary["engine differing"][label] == 0
    assert "floats read to the host: 0" in text
    assert "refused as it should" in text and "[timing] wmh block" in text
