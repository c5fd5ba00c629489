"""The language-model experiments end to end on tiny random Gemma-2 models saved with a local
word-level tokenizer: the CLI paths (presets, hf: drafters, --device auto), refusals before any
model work, recorded settings, resume after an interruption, and REPORT.md."""

import csv
import json
import os
from pathlib import Path

import pytest
from coupling.paper_repro import model as lm_model
from coupling.paper_repro.experiments import ReproConfig
from coupling.reports.reproduce import reproduce
from lm_fixtures import one_torch_thread, save_model, tiny_gemma2

from coupling.cli import main

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return (save_model(tiny_gemma2(0, scale=20.0), root / "target"),
            save_model(tiny_gemma2(1, scale=20.0), root / "drafter"))  # fmt: skip


def _tree(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if anything tries to load a model."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(lm_model, "load_model", refuse)


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize("argv,message", [
    (["decode", "--prompt", "x", "--drafter", "nope"],
     "coupling decode: error: unknown drafter 'nope'"),
    (["decode", "--prompt", "x", "--method", "autoregressive", "--coupling", "bogus"],
     "coupling decode: error: unknown coupling 'bogus'"),
    (["decode", "--prompt", "x", "--method", "nope"], "coupling decode: error: unknown method"),
    (["repro", "sd", "--sd-seeds", "0"], "coupling repro: error: --sd-seeds must be >= 1, got 0"),
    (["reproduce", "--tokens", "0"], "coupling reproduce: error: --tokens must be >= 1, got 0"),
    (["repro", "--drafters", "exit8,nope"], "coupling repro: error: unknown drafter 'nope'"),
    (["repro", "--target", "/x"], "coupling repro: error: --target /x: name its drafters"),
])  # fmt: skip
def test_refused_before_any_model_work(argv, message, capsys, no_model_load, tmp_path,
                                       monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, err = _error(capsys, argv)
    assert code == 2
    assert len(err) == 1 and err[0].startswith(message)
    assert _tree(tmp_path) == []


@pytest.mark.parametrize("command", ["repro", "reproduce"])
def test_out_that_is_a_file_or_under_a_file_is_refused(command, capsys, no_model_load,
                                                       tmp_path):  # fmt: skip
    f = tmp_path / "taken"
    f.write_text("keep me")
    for out, message in ((f, "is a file, not a directory"), (f / "sub", "is a file")):
        code, err = _error(capsys, [command, "--out", str(out)])
        assert code == 2 and len(err) == 1
        assert err[0].startswith(f"coupling {command}: error: --out") and message in err[0]
    assert f.read_text() == "keep me" and _tree(tmp_path) == ["taken"]


@pytest.mark.parametrize("command", ["repro", "reproduce"])
def test_out_that_cannot_be_written_is_refused(command, capsys, no_model_load, tmp_path):
    if os.geteuid() == 0:  # root writes through any mode bits: /proc takes no directories
        out = Path("/proc/coupling-no-such-dir/out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out = locked / "out"
    code, err = _error(capsys, [command, "--out", str(out)])
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"coupling {command}: error: --out") and "cannot be written" in err[0]
    assert not out.exists()


def test_decode_and_the_experiments_share_one_dispatch(models, capsys):
    """`coupling decode` goes through run_method, and run_method reaches each method's own
    decoder: the same tokens three ways."""
    from coupling.decoding import (
        METHODS,
        autoregressive,
        disd,
        multidraft,
        run_method,
        standard_sd,
    )
    from coupling.decoding.lm import CachedLM
    from coupling.decoding.sampling import SamplingConfig
    from coupling.paper_repro.drafters import make_drafter
    from coupling.paper_repro.model import encode_prompt, load_model

    target, drafter = models
    loaded = load_model(target)
    d = make_drafter(f"hf:{drafter}", loaded)
    prompt = encode_prompt(loaded.tokenizer, "a b c", chat=False)
    common = {"seed": 5, "max_new_tokens": 6, "sampling": SamplingConfig()}
    own = {"autoregressive": lambda: autoregressive(CachedLM(loaded.model), prompt, **common),
           "sd": lambda: standard_sd(CachedLM(loaded.model), d, prompt, gamma=3, **common),
           "disd-gumbel": lambda: disd(CachedLM(loaded.model), d, prompt, gamma=3, **common),
           "disd-wmh": lambda: disd(CachedLM(loaded.model), d, prompt, gamma=3,
                                    coupling="wmh", **common)}  # fmt: skip
    for v in ("strong", "conditional"):
        own[f"mdisd-{v}"] = lambda v=v: multidraft(CachedLM(loaded.model), d, prompt, gamma=3,
                                                   drafts=2, variant=v, **common)  # fmt: skip
    for method in METHODS:
        drafts = 2 if method.startswith("mdisd") else None
        argv = ["decode", "--prompt", "a b c", "--method", method, "--drafter", f"hf:{drafter}",
                "--target", target, "--gamma", "3", "--seed", "5", "--max-new-tokens", "6",
                "--json", *(["--drafts", "2"] if drafts else [])]  # fmt: skip
        assert main(argv) == 0
        cli = json.loads(capsys.readouterr().out)["token_ids"]
        via = run_method(method, CachedLM(loaded.model), d, prompt, gamma=3, drafts=drafts,
                         **common).tokens  # fmt: skip
        assert (cli, via) == (own[method]().tokens,) * 2, method
    with pytest.raises(ValueError, match="needs a drafter"):
        run_method("sd", CachedLM(loaded.model), None, prompt, gamma=3, **common)


def test_preset_gemma2_end_to_end_on_tiny_gemma(models, capsys, tmp_path):
    """The authors' configuration with the model paths swapped for tiny Gemma-2 models:
    bfloat16, --device auto, raw prompts, hf: drafters; the per-position table and figures."""
    target, drafter = models
    out = tmp_path / "r"
    argv = ["repro", "coupling", "--preset", "gemma2", "--target", target, "--drafters",
            f"hf:{drafter}", "--tokens", "4", "--mc-trials", "1000", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    with open(out / "coupling" / "positions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 4  # three raw prompts, four positions, one drafter
    need = {"prompt", "template", "drafter", "position", "tv", "gumbel_exact", "wmh_exact",
            "gumbel_mc", "wmh_mc", "lower_bound", "gumbel_se", "wmh_se"}  # fmt: skip
    assert need <= set(rows[0])
    assert {r["template"] for r in rows} == {"raw"}
    for r in rows:
        tv, g, w = float(r["tv"]), float(r["gumbel_exact"]), float(r["wmh_exact"])
        assert (1 - tv) / (1 + tv) - 1e-12 <= w <= g + 1e-12 <= 1 - tv + 2e-12
    settings = json.loads((out / "coupling" / "settings.json").read_text())
    assert settings["dtype"] == "bfloat16" and settings["templates"] == ["raw"]
    assert (out / "coupling" / "gap.png").exists()
    assert (out / "coupling" / "gap_items.csv").exists()


def test_resume_with_other_settings_is_refused_naming_them(models, capsys, tmp_path):
    target, drafter = models
    out = tmp_path / "r2"
    base = ["repro", "invariance", "--target", target, "--drafters", f"hf:{drafter}",
            "--templates", "raw", "--out", str(out)]  # fmt: skip
    assert main([*base, "--tokens", "4"]) == 0
    capsys.readouterr()
    stored = [p for p in out.rglob("*") if p.name != ".coupling.lock"]  # the lock is no result
    before = {p: p.stat().st_mtime_ns for p in stored}
    code, err = _error(capsys, [*base, "--tokens", "8", "--seed", "3"])
    assert code == 2 and len(err) == 1
    assert "other settings" in err[0]
    assert "seed: stored 0, now 3" in err[0] and "tokens: stored 4, now 8" in err[0]
    assert {p: p.stat().st_mtime_ns for p in stored} == before


def _cfg(target, drafter):
    return ReproConfig(target=target, tokens=4, mc_trials=500, drafters=(f"hf:{drafter}",
                       "temp1.25"), templates=("raw",), be_drafters=(f"hf:{drafter}",),
                       be_seeds=3, be_tokens=10, sd_seeds=2, flip_sequences=1, md_drafts=(1, 3),
                       md_seeds=2, md_tokens=8)  # fmt: skip


def _untimed(text):
    rows = list(csv.DictReader(text.splitlines()))
    return [{k: v for k, v in r.items() if not k.startswith(("cost", "speedup"))} for r in rows]


def test_reproduce_resumes_after_an_interruption(models, tmp_path):
    """Interrupted after a few units, the rerun computes only what is missing and ends with
    the same tables as an uninterrupted run; the report embeds every figure it names."""
    from coupling.paper_repro.model import load_model

    target, drafter = models
    cfg = _cfg(target, drafter)
    parts = ("coupling", "sd", "invariance")
    reproduce(lambda: load_model(target), cfg, tmp_path / "whole", parts=parts)

    class Stop(Exception):
        pass

    seen = []

    def progress(part, total):
        import contextlib

        @contextlib.contextmanager
        def bar():
            def update(k):
                seen.append(part)
                if len(seen) == 5:
                    raise Stop

            yield update

        return bar()

    out = tmp_path / "cut"
    with pytest.raises(Stop):
        reproduce(lambda: load_model(target), cfg, out, parts=parts, progress=progress)
    stored = {p: p.stat().st_mtime_ns for p in out.rglob("units/*.json")}
    assert len(stored) == 5
    reproduce(lambda: load_model(target), cfg, out, parts=parts)
    assert all(p.stat().st_mtime_ns == t for p, t in stored.items())
    for name in ("coupling/positions.csv", "sd/block_efficiency.csv", "sd/multidraft.csv",
                 "invariance/texts.md"):  # fmt: skip
        a = (tmp_path / "whole" / "repro" / name).read_text()
        b = (out / "repro" / name).read_text()
        if name.startswith("sd/"):  # the cost ratio and speed-ups are timings: skip them
            a, b = (_untimed(t) for t in (a, b))
        assert b == a, name
    report = (out / "REPORT.md").read_text()
    for section in ("Pr[a = b] against D_TV", "Gumbel - WMH gap", "the gap item by item",
                    "the list coupling with K drafts", "block efficiency",
                    "drafter invariance", "multi-draft DISD"):  # fmt: skip
        assert section in report
    one = [r for r in csv.DictReader((out / "repro" / "sd" / "multidraft.csv").open())
           if r["drafts"] == "1"]  # fmt: skip
    assert one  # K = 1: both variants are DISD-Gumbel, whose runs the paths replay
    for r in one:
        assert float(r["be_strong"]) == float(r["be_conditional"]) == float(r["be_disd-gumbel"])
    images = [line[line.rindex("](") + 2 : -1] for line in report.splitlines()
              if line.startswith("![")]  # fmt: skip
    assert images and all((out / i).exists() for i in images)
    assert "reproduces 2 of 2 real DISD decoder runs" in report


def test_proofs_and_sweep_parts_resume(tmp_path, monkeypatch):
    import coupling.reports.reproduce as rr
    from coupling.simulate.sweep import SweepSpec

    spec = SweepSpec(blocks=({"family": "dirichlet", "n": 20, "replicates": 3},), trials=1000)
    claims = ("disd-exact", "pareto", "list-matching")
    data, _ = reproduce(None, ReproConfig(), tmp_path, parts=("proofs", "sweep"), claims=claims,
                        sweep_spec=spec)  # fmt: skip
    assert [c.verdict for c in data.certificates] == ["proved", "proved", "verified"]
    assert len(data.sweep_rows) == 3

    def boom(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(rr, "run_claims", boom)
    monkeypatch.setattr(rr, "run_sweep", lambda *a, **k: None)
    again, _ = reproduce(None, ReproConfig(), tmp_path, parts=("proofs", "sweep"), claims=claims,
                         sweep_spec=spec)  # fmt: skip
    assert [c.as_dict() | {"path": ""} for c in again.certificates] == [
        c.as_dict() | {"path": ""} for c in data.certificates]  # fmt: skip
    assert again.sweep_rows == data.sweep_rows
    report = (tmp_path / "REPORT.md").read_text()
    assert "## Proofs" in report and "## Bounds" in report
    assert "### Pareto: Gumbel beats weighted MinHash item by item: proved" in report
    assert "### List coupling: the exact matching probability: verified" in report
    assert "Symmetric optimality" not in report  # its certificate was not asked for


def test_drafters_lists_every_kind_without_loading_a_model(capsys, no_model_load, tmp_path,
                                                           monkeypatch):  # fmt: skip
    monkeypatch.setenv("COUPLING_CACHE", str(tmp_path))
    assert main(["drafters", "--no-measure", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for name in ("exit8", "exit16-raw", "exit28-raw", "q3g32", "q2g32", "int8", "bf16",
                 "temp0.8", "temp1.25", "hf:PATH"):  # fmt: skip
        assert name in rows and rows[name]["mean_tv"] is None
    assert sum(r["default"] for r in rows.values()) == 6
    assert _tree(tmp_path) == []
