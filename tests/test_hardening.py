"""Every entry point refuses bad input before it works, runs no user code, and stops cleanly.

Each case of issue 16 as the command line meets it: the exit status, the one-line message, and
that nothing was computed, written or lost. Library-level twins live beside the code they
test (test_validation, test_families, test_montecarlo, test_sweep).
"""

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from coupling.simulate.families import make_pair

from coupling import simulate
from coupling.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY_SWEEP = ["--family", "dirichlet", "--n", "20", "--replicates", "3", "--trials", "1000",
              "--workers", "1", "--batch", "1", "--json"]  # fmt: skip


def refused(capsys, argv, message):
    """Run ``coupling argv`` in-process; assert exit 2 with one error line containing
    ``message``, and nothing on stdout."""
    rc = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2, (rc, captured.err)
    assert err.startswith(f"coupling {argv[0]}: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    assert message in err, err
    assert captured.out == ""
    return err


def files_under(path):
    path = Path(path)
    return sorted(p.relative_to(path) for p in path.rglob("*")) if path.exists() else []


def snapshot(path):
    """Content of every file under ``path``, to show that a refused run changed nothing."""
    return {str(p): (Path(path) / p).read_bytes() for p in files_under(path)
            if (Path(path) / p).is_file()}  # fmt: skip


# --- silent wrong results --------------------------------------------------------------------


def test_trials_beyond_the_key_space_are_refused(capsys):
    err = refused(capsys, ["simulate", "--n", "10", "--trials", str(2**63 + 1)], "--trials")
    assert "9223372036854775808" in err  # the bound itself
    with pytest.raises(ValueError, match=r"2\*\*63 - key = 9223372036854775798"):
        simulate.estimate([0.5, 0.5], [0.5, 0.5], "gumbel", 2**63 - 9, seed=0, key=10)


def test_simulate_z_uses_the_error_at_the_exact_value(capsys):
    """--n 10 --trials 3: no Gumbel trial collides, so the estimate's own SE is 0; the old
    code printed z = +0.00 for an estimate of 0 against an exact 0.52."""
    argv = ["simulate", "--n", "10", "--trials", "3", "--protocols", "gumbel,wmh", "--json"]
    from coupling.simulate.montecarlo import z_score

    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    gumbel = out["protocols"][0]
    assert gumbel["estimate"] == 0.0 and gumbel["stderr"] == 0.0 and gumbel["exact"] > 0.5
    se = np.sqrt(gumbel["exact"] * (1 - gumbel["exact"]) / 3)
    assert gumbel["z"] == pytest.approx(-gumbel["exact"] / se) != 0.0
    for row in out["protocols"]:
        assert row["z"] == z_score(row["estimate"], row["exact"], row["trials"])
    assert main(argv[:-1]) == 0
    assert f"{gumbel['z']:+.2f}" in capsys.readouterr().out


def _no_constants(name):
    raise AssertionError(f"non-standard JSON constant {name}")


def test_search_json_is_strict_when_the_objective_overflows(tmp_path, capsys):
    argv = ["search", "--objective", "exp(1000 + gumbel)", "--n", "2", "--maxiter", "1",
            "--out", str(tmp_path), "--json"]  # fmt: skip
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out, parse_constant=_no_constants)
    assert rows[0]["value"] == "inf"


# --- work that cannot be stopped or bounded --------------------------------------------------


def _read_until(proc, pattern, timeout):
    """stderr of ``proc`` until ``pattern`` (bytes, or a compiled regular expression of bytes)
    shows up; fails after ``timeout`` s."""
    seen = b""
    deadline = time.monotonic() + timeout
    while not (pattern.search(seen) if isinstance(pattern, re.Pattern) else pattern in seen):
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, seen.decode(errors="replace")[-2000:]
        ready, _, _ = select.select([proc.stderr], [], [], min(left, 1.0))
        if ready:
            seen += os.read(proc.stderr.fileno(), 65536)
    return seen


def _interrupt(proc, *, group=False):
    """Ctrl-C (SIGINT; to the whole process group when ``group``, as a terminal sends it);
    returns (exit status, rest of stderr, seconds it took to stop)."""
    t0 = time.monotonic()
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, err.decode(errors="replace"), time.monotonic() - t0


def _coupling(*argv):
    return subprocess.Popen([sys.executable, "-m", "coupling", *argv], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip


def test_ctrl_c_stops_a_huge_simulate_within_seconds():
    """10**12 trials: the progress bar moves, and Ctrl-C ends the run at the next piece."""
    proc = _coupling("simulate", "--n", "1000", "--trials", str(10**12), "--protocols", "gumbel")
    _read_until(proc, b"/1.00T", timeout=120)  # the bar has drawn a count
    rc, err, seconds = _interrupt(proc, group=True)
    assert rc == 130, err
    assert "coupling simulate: interrupted" in err and "Traceback" not in err
    assert seconds < 20  # a piece lasts about PIECE_SECONDS; before, Ctrl-C waited minutes


@pytest.mark.slow
def test_ctrl_c_on_a_sweep_keeps_every_finished_batch(tmp_path):
    out = tmp_path / "run"
    argv = ["sweep", "--family", "dirichlet", "--n", "2000", "--replicates", "40", "--trials",
            "20000", "--engines", "faithful", "--mc-protocols", "gumbel", "--batch", "1",
            "--workers", "2", "--seed", "3", "--out", str(out)]  # fmt: skip
    proc = _coupling(*argv, "--json")  # no bar: nothing fills the stderr pipe meanwhile
    store = out / "sweep.sqlite"
    seen = 0
    deadline = time.monotonic() + 300
    while seen < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        if store.exists():
            with sqlite3.connect(store) as db:
                try:
                    seen = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
                except sqlite3.OperationalError:  # the file is there before its table
                    continue
    assert seen >= 3, "no cells were stored"
    rc, err, _ = _interrupt(proc, group=True)
    assert rc == 130, err
    assert "Traceback" not in err
    line = [s for s in err.splitlines() if "interrupted" in s][-1]
    with sqlite3.connect(store) as db:
        stored = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert seen <= stored < 40
    assert f"{stored}/40 cells are stored" in line and "rerun the same command" in line
    assert not (out / "results.csv").exists()
    done = subprocess.run([sys.executable, "-m", "coupling", *argv, "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stored"] == 40


def test_memory_is_checked_before_any_allocation(capsys, monkeypatch):
    err = refused(capsys, ["simulate", "--n", str(10**12)], "needs about")
    assert "available" in err and "TiB" in err
    err = refused(capsys, ["search", "--n", str(10**8)], "needs about")
    assert "EiB" in err
    # what the machine has, made small: n = 10**9 (the case) and 10**7
    monkeypatch.setattr(simulate.validation, "available_memory", lambda: 2**30)
    monkeypatch.setattr("coupling.simulate.families.make_pair", _never)
    refused(capsys, ["simulate", "--n", str(10**9)], "372.5 GiB")
    refused(capsys, ["simulate", "--n", str(10**7)], "1.0 GiB available")


def _never(*args, **kwargs):
    raise AssertionError("called after the check should have refused the run")


def test_too_many_swaps_are_refused(capsys):
    refused(capsys, ["simulate", "--family", "permuted", "--param", "swaps=100000000"],
            "swaps = 100000000 exceeds max(n, n ln n) = 6908")  # fmt: skip


# --- tracebacks where a one-line error belongs -----------------------------------------------


def _npz_cases(tmp_path):
    pair = make_pair("zipf", 30, seed=0)
    good = tmp_path / "good.npz"
    np.savez(good, p=pair.p, q=pair.q)
    data = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[200:260] = bytes(60)
    (tmp_path / "corrupt.npz").write_bytes(bytes(corrupt))
    (tmp_path / "text.npz").write_text("p = 0.5, 0.5\n")
    np.save(tmp_path / "array.npy", pair.p)
    (tmp_path / "array.npy").rename(tmp_path / "array.npz")
    (tmp_path / "folder.npz").mkdir()
    return {
        "missing.npz": "no such .npz file",
        "truncated.npz": "cannot be read as an .npz archive",
        "corrupt.npz": "cannot be read as an .npz archive",
        "text.npz": "is not an .npz archive",
        "array.npz": "is a single .npy array",
        "folder.npz": "is not a file",
    }


def test_bad_npz_files(tmp_path, capsys):
    for name, message in _npz_cases(tmp_path).items():
        refused(capsys, ["simulate", "--npz", str(tmp_path / name)], message)


SPEC_CASES = {
    "no family": ("[[block]]\nn = 10\n", "block 1: no 'family'"),
    "no n": ('[[block]]\nfamily = "zipf"\n', "block 1: no 'n'"),
    "block = 3": ("block = 3\n", "block must be [[block]] tables, got block = 3"),
    "n = 10.7": ('[[block]]\nfamily = "zipf"\nn = 10.7\n', "n must be an int, got 10.7"),
    "replicates = 2.9": ('[[block]]\nfamily = "zipf"\nn = 10\nreplicates = 2.9\n',
                         "replicates must be an int, got 2.9"),
    "replicates = '3'": ('[[block]]\nfamily = "zipf"\nn = 10\nreplicates = "3"\n',
                         "replicates must be an int, got '3'"),
    "replicates = -5": ('[[block]]\nfamily = "zipf"\nn = 10\nreplicates = -5\n',
                        "replicates must be >= 1, got -5"),
    "replicates = 0": ('[[block]]\nfamily = "zipf"\nn = 10\nreplicates = 0\n',
                       "replicates must be >= 1, got 0"),
    "seed = -1": ('seed = -1\n[[block]]\nfamily = "zipf"\nn = 10\n', "seed must be >= 0"),
    "engines = 'gpu'": ('engines = "gpu"\n[[block]]\nfamily = "zipf"\nn = 10\n',
                        "unknown engine 'gpu'"),
    "bad parameter": ('[[block]]\nfamily = "zipf"\nn = 10\n[block.params]\nnoise = -1\n',
                      "noise must be >= 0.0"),
    "not TOML": ("[[block]\n", "is not valid TOML"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_bad_spec_files(case, tmp_path, capsys):
    text, message = SPEC_CASES[case]
    spec = tmp_path / "s.toml"
    spec.write_text(text)
    refused(capsys, ["sweep", "--spec", str(spec), "--out", str(tmp_path / "out")], message)
    assert not (tmp_path / "out").exists()


def test_spec_path_missing_or_a_directory(tmp_path, capsys):
    refused(capsys, ["sweep", "--spec", str(tmp_path / "none.toml")], "no such sweep file")
    refused(capsys, ["sweep", "--spec", str(tmp_path)], "is not a file")


def test_engines_given_as_one_name(tmp_path, capsys):
    """``engines = "fast"`` was read letter by letter ("unknown engine 'f'")."""
    spec = tmp_path / "s.toml"
    spec.write_text('trials = 500\nengines = "fast"\n[[block]]\nfamily = "zipf"\nn = 10\n')
    argv = ["sweep", "--spec", str(spec), "--out", str(tmp_path / "out"), "--workers", "1",
            "--json"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["stored"] == 1
    with sqlite3.connect(tmp_path / "out" / "sweep.sqlite") as db:
        (row,) = [json.loads(r) for (r,) in db.execute("SELECT row FROM cells")]
    assert "mc_gumbel_fast" in row and tomllib.loads(spec.read_text())["engines"] == "fast"


@pytest.mark.parametrize(
    "argv",
    [["sweep", *TINY_SWEEP], ["search", "--n", "2", "--maxiter", "1"],
     ["prove", "--claim", "gumbel-formula"]],
    ids=["sweep", "search", "prove"],
)  # fmt: skip
def test_out_that_is_a_file_or_unwritable(argv, tmp_path, capsys, monkeypatch):
    target = tmp_path / "file"
    target.write_text("keep me")
    refused(capsys, [*argv, "--out", str(target)], "is a file, not a directory")
    refused(capsys, [*argv, "--out", str(target / "sub")], f"cannot be created: {target} is a file")
    assert target.read_text() == "keep me"

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "touch", denied)  # a directory this process may not write in
    refused(capsys, [*argv, "--out", str(tmp_path / "ro")], "cannot be written: Permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only directory")
def test_out_in_a_read_only_directory(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    refused(capsys, ["search", "--n", "2", "--out", str(ro / "x")], "cannot be written")


def test_scheduler_without_dask(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if missing
    refused(capsys, ["sweep", *TINY_SWEEP, "--scheduler", "tcp://localhost:8786",
                     "--out", str(tmp_path / "out")], "pip install -e '.[cluster]'")  # fmt: skip
    assert not (tmp_path / "out" / "sweep.sqlite").exists()


def test_full_disk_keeps_the_store_intact(tmp_path, capsys, monkeypatch):
    """SQLite's own 'database or disk is full' (a page limit on the store): one error line,
    every batch stored before it kept, the store consistent, and a rerun completes it."""
    out = tmp_path / "out"
    argv = ["sweep", "--family", "dirichlet", "--n", "20", "--replicates", "40", "--trials",
            "500", "--workers", "1", "--batch", "1", "--out", str(out), "--json"]  # fmt: skip
    connect = sqlite3.connect

    def small_disk(path, *args, **kwargs):
        db = connect(path, *args, **kwargs)
        db.execute("PRAGMA max_page_count = 8")
        return db

    monkeypatch.setattr(sqlite3, "connect", small_disk)
    err = refused(capsys, argv, "database or disk is full")
    assert "cells stored before are intact" in err
    monkeypatch.setattr(sqlite3, "connect", connect)
    with sqlite3.connect(out / "sweep.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = dict(db.execute("SELECT id, row FROM cells"))
    assert 0 < len(kept) < 40
    assert not (out / "results.csv").exists()
    assert main(argv) == 0
    capsys.readouterr()
    with sqlite3.connect(out / "sweep.sqlite") as db:
        rows = dict(db.execute("SELECT id, row FROM cells"))
    assert len(rows) == 40 and all(rows[k] == v for k, v in kept.items())


def test_region_is_checked_before_the_search(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("coupling.simulate.search.search", _never)
    refused(capsys, ["search", "--region", "-2", "--out", str(tmp_path / "o")],
            "--region must be >= 0, got -2")  # fmt: skip
    refused(capsys, ["search", "--target-d", "1.5", "--out", str(tmp_path / "o")], "--target-d")
    refused(capsys, ["search", "--target-d", "x", "--out", str(tmp_path / "o")], "--target-d")
    refused(capsys, ["search", "--objective", "gumbel +", "--out", str(tmp_path / "o")],
            "neither a known name")  # fmt: skip
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "objective", ["gumbel / optimal", "max:" + " + ".join(["gumbel"] * 45)], ids=["slash", "long"]
)
def test_search_files_are_named_by_a_safe_slug(objective, tmp_path, capsys):
    """The result is written under a slug plus hash, whatever the objective's characters or
    length (a '/' or 300 characters crashed the old code after the search had run)."""
    argv = ["search", "--objective", objective, "--n", "2", "--maxiter", "1", "--out",
            str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    (npz,) = tmp_path.glob("best_*_free.npz")
    assert len(npz.name) < 80 and "/" not in npz.stem
    with np.load(npz) as data:
        assert data["p"].sum() == pytest.approx(1)
    assert len(list(tmp_path.glob("search_*.md"))) == 1


def test_a_bug_shows_its_traceback(monkeypatch):
    """main catches CommandError only: a ValueError from inside the computation is a bug."""

    def broken(*args, **kwargs):
        raise ValueError("a bug in the engine")

    monkeypatch.setattr(simulate, "estimate", broken)
    with pytest.raises(ValueError, match="a bug in the engine"):
        main(["simulate", "--n", "10", "--trials", "10"])


# --- silent coercion and empty runs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "--batch", "-1"], "--batch must be >= 1, got -1"),
        (["sweep", "--batch", "0"], "--batch must be >= 1, got 0"),
        (["sweep", "--family", ""], "family is an empty list"),
        (["sweep", "--n", ""], "n is an empty list"),
        (["sweep", "--n", "10.7"], "--n expects comma-separated ints"),
        (["sweep", "--replicates", "0"], "replicates must be >= 1"),
        (["sweep", "--seed", "-1"], "seed must be >= 0"),
        (["sweep", "--engines", "", "--mc-protocols", "gumbel"], "engines is empty"),
        (["sweep", "--workers", "-1"], "--workers must be >= 0"),
        (["simulate", "--protocols", ""], "--protocols is empty"),
        (["simulate", "--protocols", " , "], "--protocols is empty"),
        (["simulate", "--family", ""], "unknown family ''"),
        (["simulate", "--seed", "-1"], "--seed must be >= 0"),
        (["simulate", "--protocols", "gumbel,gls"], "--protocols gls needs --drafts K"),
        (["simulate", "--drafts", "4"], "--drafts applies to --protocols gls"),
        (["simulate", "--protocols", "gls", "--drafts", "0"], "--drafts must be >= 1, got 0"),
        (["simulate", "--threads", "-1"], "--threads must be >= 0"),
        (["simulate", "--param", "alpha=1", "--param", "=2"], "KEY=VALUE"),
        (["search", "--maxiter", "0"], "--maxiter must be >= 1, got 0"),
        (["search", "--n", "0"], "--n must be >= 1"),
        (["prove", "--claim", ""], "--claim is empty"),
        (["prove", "--claim", "nope"], "unknown claim 'nope'"),
        (["bench", "--n", "0"], "--n must be >= 1, got 0"),
        (["bench", "--fast-trials", "-3"], "--fast-trials must be >= 1"),
    ],
)
def test_runs_that_would_compute_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    extra = ["--out", str(out)] if argv[0] in ("sweep", "search", "prove") else []
    refused(capsys, [*argv, *extra], message)
    assert not out.exists()


# --- float32 input ---------------------------------------------------------------------------


def test_normalize_flag_for_npz(tmp_path, capsys):
    path = tmp_path / "counts.npz"
    np.savez(path, p=np.array([1.0, 3.0]), q=np.array([2.0, 2.0]))
    refused(capsys, ["simulate", "--npz", str(path)], "pass --normalize to rescale")
    refused(capsys, ["simulate", "--normalize"], "--normalize rescales the arrays of --npz")
    assert main(["simulate", "--npz", str(path), "--normalize", "--trials", "1000",
                 "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["D"] == pytest.approx(0.25)


def test_float32_softmax_npz_is_accepted(tmp_path, capsys):
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, size=(2, 50_000)).astype(np.float32)
    w = np.exp(z - z.max(axis=1, keepdims=True))
    p, q = w / w.sum(axis=1, keepdims=True)  # float32 throughout, as a model's softmax
    assert abs(float(np.sum(p, dtype=np.float64)) - 1) > 1e-9  # refused before the fix
    path = tmp_path / "f32.npz"
    np.savez(path, p=p, q=q)
    assert main(["simulate", "--npz", str(path), "--trials", "1000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 50_000


# --- files -----------------------------------------------------------------------------------


def test_files_honour_the_umask(tmp_path):
    from coupling.figures.bounds import subplots
    from coupling.outputs import atomic_write_text, save_figure

    old = os.umask(0o022)
    try:
        text = atomic_write_text(tmp_path / "a.md", "x\n")
        fig, ax = subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, 1])
        figures = save_figure(fig, tmp_path / "fig", {"n": 1})
    finally:
        os.umask(old)
    for path in [text, *figures]:
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_sweep_resumed_with_another_spec_is_refused(tmp_path, capsys):
    """Changing n or family under the same --out was accepted ("9/1 cells stored") with stale
    figures beside the new ones; now it is refused before anything runs or is written."""
    out = tmp_path / "out"
    base = ["sweep", "--replicates", "1", "--trials", "500", "--workers", "1", "--out", str(out),
            "--json"]  # fmt: skip
    assert main([*base, "--family", "zipf", "--n", "30"]) == 0
    capsys.readouterr()
    before = snapshot(out)
    assert "summary_zipf.png" in {Path(k).name for k in before}
    refused(capsys, [*base, "--family", "zipf", "--n", "40"],
            "block 1 n: stored [30], given [40]")  # fmt: skip
    refused(capsys, [*base, "--family", "dirichlet", "--n", "30"],
            "block 1 family: stored ['zipf'], given ['dirichlet']")  # fmt: skip
    refused(capsys, [*base, "--family", "zipf", "--n", "30", "--trials", "600"],
            "trials: stored 500, given 600")  # fmt: skip
    assert snapshot(out) == before


# --- language-model commands: refused before the model loads ---------------------------------


def _no_model(monkeypatch):
    from coupling.paper_repro import model as lm_model

    def load_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(lm_model, "load_model", load_model)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decode", "--prompt", "hi", "--method", "sd", "--drafter", "hf:/nonexistent"],
         "model path '/nonexistent' does not exist"),
        (["decode", "--prompt", "hi", "--method", "sd", "--drafter", "hf:org/model",
          "--drafter-dtype", "int3"], "dtype must be one of float32"),
        (["decode", "--prompt", "hi", "--method", "sd", "--drafter", "temp0.8",
          "--drafter-dtype", "bfloat16"], "--drafter-dtype applies to hf: drafters only"),
        (["decode", "--prompt", "hi", "--method", "sd", "--drafter", "exit8", "--threads", "-1"],
         "--threads must be >= 0, got -1"),
        (["repro", "invariance", "--threads", "-1"], "--threads must be >= 0, got -1"),
        (["distill", "--steps", "0"], "steps must be >= 1, got 0"),
        (["distill", "--batch", "0"], "batch must be >= 1, got 0"),
        (["distill", "--seq-len", "0"], "seq_len must be >= 2, got 0"),
        (["distill", "--lr", "0"], "lr"),
        (["distill", "--depths", "x"], "--depths must be comma-separated ints, got 'x'"),
        (["distill", "--depths", "8,8"], "depths repeat"),
        (["distill", "--threads", "-2"], "--threads must be >= 0, got -2"),
    ],
)  # fmt: skip
def test_lm_commands_refuse_before_loading(argv, message, tmp_path, capsys, monkeypatch):
    _no_model(monkeypatch)
    extra = ["--out", str(tmp_path / "out")] if argv[0] in ("repro", "distill") else []
    refused(capsys, [*argv, *extra], message)
    assert not (tmp_path / "out").exists()


def test_distill_depth_beyond_the_target_is_refused_before_training(tmp_path, capsys,
                                                                     monkeypatch):  # fmt: skip
    """--depths 99 failed with a traceback after 20 s of data preparation; now it is refused
    as soon as the target's layer count is known (its config, right after the load)."""
    from types import SimpleNamespace

    from coupling.paper_repro import distill
    from coupling.paper_repro import model as lm_model

    config = SimpleNamespace(num_hidden_layers=30)
    fake = SimpleNamespace(model=SimpleNamespace(config=config), seconds=0.0)
    monkeypatch.setattr(lm_model, "load_model", lambda *a, **k: fake)

    def train(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(distill, "train_adapters", train)
    refused(capsys, ["distill", "--depths", "8,99", "--out", str(tmp_path / "a")],
            "depths [99] out of range: the target has 30 layers")  # fmt: skip


def test_objective_undefined_everywhere_is_an_error(tmp_path, capsys):
    """``gumbel / (optimal - optimal)`` divides by zero at every pair: a one-line error, not
    a ZeroDivisionError traceback after the search."""
    refused(capsys, ["search", "--n", "2", "--maxiter", "1", "--objective",
                     "gumbel / (optimal - optimal)", "--out", str(tmp_path / "s"), "--json"],
            "divides by zero at every one of the")  # fmt: skip
