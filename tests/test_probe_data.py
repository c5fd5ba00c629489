"""Results directories as a new user's probe met them (issue 22, items 1, 2, 6 and 14).

One run at a time per ``--out`` (a second is refused before any model load, naming the
holder's pid; a holder killed with ``kill -9`` is taken over), every stored unit checked on
resume and any setting added to ``ReproConfig`` checked with it, a results file that cannot be
replaced ending a run in one line with nothing lost, no empty ``--out`` left by a run that fails
before its work starts, and the README's tables as the script that prints them prints them.
Each case asserts the exit status, the one-line message and that nothing stored was lost.
"""

import contextlib
import errno
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from coupling.outputs.lock import LOCK_NAME
from coupling.paper_repro import model as lm_model
from coupling.paper_repro.experiments import EXPERIMENTS, UNREAD_FIELDS, ReproConfig
from coupling.paper_repro.units import UnitStore

from coupling.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY_SWEEP = ["sweep", "--family", "dirichlet", "--n", "20", "--replicates", "3", "--trials",
              "1000", "--workers", "1", "--batch", "1", "--json"]  # fmt: skip
TINY_SEARCH = ["search", "--n", "2", "--maxiter", "1", "--json"]
QUICK_PROVE = ["prove", "--claim", "disd-exact", "--json"]


def _run(capsys, argv):
    """``coupling argv`` in-process: (exit status, stderr lines)."""
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def _files(root):
    """Every stored file under ``root`` (the lock file aside) with its bytes."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != LOCK_NAME}  # fmt: skip


def _in_use(command, out, pid):
    return (f"coupling {command}: error: --out {out} is in use by another run (pid {pid}); "
            "wait for it to finish, or choose another --out")  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    pytest.importorskip("transformers")
    from lm_fixtures import save_model, tiny_gemma2

    root = tmp_path_factory.mktemp("models")
    return (save_model(tiny_gemma2(0, scale=20.0), root / "target"),
            save_model(tiny_gemma2(1, scale=20.0), root / "drafter"))  # fmt: skip


@pytest.fixture
def one_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _repro(models, out, *extra):
    target, drafter = models
    return ["repro", "invariance", "--target", target, "--drafters", f"hf:{drafter}",
            "--templates", "raw", "--be-seeds", "1", "--out", str(out), *extra]  # fmt: skip


# -- item 1: every unit records and checks its settings ---------------------------------------


def test_units_written_under_other_settings_are_refused_on_resume(tmp_path):
    """The race of issue 22: two runs check the same empty directory, one records its
    settings (4 tokens) and both store units; the resume used to read settings.json only."""
    four, five = {"tokens": 4, "seed": 0}, {"tokens": 5, "seed": 0}
    first, second = UnitStore(tmp_path, four), UnitStore(tmp_path, five)
    first.get("a", lambda: {"text": "four"})
    second.get("b", lambda: {"text": "five"})
    assert json.loads((tmp_path / "settings.json").read_text()) == four
    unit = tmp_path / "units" / "b.json"
    with pytest.raises(ValueError) as caught:
        UnitStore(tmp_path, four)
    assert str(caught.value) == (f"{unit} holds results made with other settings (tokens: "
                                 "stored 5, now 4); use another --out or remove it")  # fmt: skip
    with pytest.raises(ValueError, match="tokens: stored 5, now 4"):
        first.get("b", lambda: {"text": "four"})  # a unit stored after the check, too
    with pytest.raises(ValueError, match="tokens: stored 4, now 5"):
        UnitStore(tmp_path, five)


def test_a_unit_without_its_settings_is_refused(tmp_path):
    store = UnitStore(tmp_path, {"tokens": 4})
    store.get("a", lambda: {"x": 1})
    (tmp_path / "units" / "old.json").write_text(json.dumps({"x": 2}))  # an older version's
    with pytest.raises(ValueError, match=r"old\.json holds a unit without its settings"):
        UnitStore(tmp_path, {"tokens": 4})
    (tmp_path / "units" / "old.json").write_text("{")
    with pytest.raises(ValueError, match=r"old\.json is not a stored unit"):
        UnitStore(tmp_path, {"tokens": 4})


def test_every_field_is_a_setting_of_each_experiment_that_may_read_it():
    cfg = ReproConfig()
    names = {f for f in cfg.as_dict() if f != "time"}
    for experiment in EXPERIMENTS:
        unread = set(UNREAD_FIELDS[experiment])
        assert unread <= names, unread - names  # no stale name
        assert set(cfg.settings(experiment)) == names - unread


@dataclass(frozen=True)
class _WithAnotherField(ReproConfig):
    """ReproConfig as it would be with one more field."""

    added_later: int = 2


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_a_field_added_to_the_config_refuses_units_made_without_it(experiment, tmp_path):
    assert _WithAnotherField().settings(experiment)["added_later"] == 2
    UnitStore(tmp_path, ReproConfig().settings(experiment)).get("u", lambda: {"x": 1})
    before = _files(tmp_path)
    with pytest.raises(ValueError) as caught:
        UnitStore(tmp_path, _WithAnotherField().settings(experiment))
    assert "made with other settings (added_later: stored (absent), now 2)" in str(caught.value)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_units_keyed_by_output_index_are_refused(experiment, tmp_path):
    """Units made before the decoders keyed their randomness by absolute position (they
    record no key_convention) are refused on resume as made with other settings."""
    settings = ReproConfig().settings(experiment)
    assert settings["key_convention"] == "absolute-position"
    old = {k: v for k, v in settings.items() if k != "key_convention"}
    UnitStore(tmp_path, old).get("u", lambda: {"x": 1})
    with pytest.raises(ValueError, match="key_convention: stored \\(absent\\), now "
                                         "absolute-position"):  # fmt: skip
        UnitStore(tmp_path, settings)


# -- item 1: one run per results directory ----------------------------------------------------


@pytest.mark.parametrize(
    "argv,module,name",
    [(TINY_SWEEP, "coupling.simulate.sweep", "run_sweep"),
     (TINY_SEARCH, "coupling.simulate.search", "search"),
     (QUICK_PROVE, "coupling.reports.proofs", "prove")],
    ids=["sweep", "search", "prove"],
)  # fmt: skip
def test_a_second_run_on_the_same_out_is_refused_while_the_first_works(argv, module, name,
                                                                       tmp_path, capsys,
                                                                       monkeypatch):  # fmt: skip
    """The second run starts while the first is inside its work (the function patched here),
    is refused at once naming the first's pid, and the first ends normally."""
    out = tmp_path / "out"
    target = importlib.import_module(module)
    work, second = getattr(target, name), []

    def during_the_first_run(*args, **kwargs):
        if not second:
            second.append(None)
            second[:] = [main([*argv, "--out", str(out)]), capsys.readouterr().err]
        return work(*args, **kwargs)

    monkeypatch.setattr(target, name, during_the_first_run)
    assert main([*argv, "--out", str(out)]) == 0
    code, err = second
    assert code == 2 and err.strip() == _in_use(argv[0], out, os.getpid())
    capsys.readouterr()
    assert main([*argv, "--out", str(out)]) == 0  # released when the first run ended


HOLD = """import sys, time
from coupling.outputs.lock import DirectoryLock
DirectoryLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_another_process_holding_out_is_named_and_taken_over_once_killed(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("stored before")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        code, err = _run(capsys, [*TINY_SEARCH, "--out", str(out)])
        assert code == 2 and err == [_in_use("search", out, holder.pid)]
        assert _files(out) == {"keep.txt": b"stored before"}
    finally:
        holder.send_signal(signal.SIGKILL)  # the kernel releases its lock; its pid stays
        holder.wait()
    assert (out / LOCK_NAME).read_text().strip() == str(holder.pid)
    code, _ = _run(capsys, [*TINY_SEARCH, "--out", str(out)])
    assert code == 0
    assert (out / "keep.txt").read_text() == "stored before"
    assert any(p.name.startswith("best_") for p in out.iterdir())


@pytest.mark.parametrize("existing", [True, False], ids=["resumed-out", "new-out"])
def test_two_repro_runs_on_one_out_never_mix(existing, models, one_thread, tmp_path, capsys,
                                             monkeypatch):  # fmt: skip
    """Issue 22's probe: `--tokens 4` and `--tokens 5` started together. An existing --out is
    held from the start, so the second is refused before its model load; on a new one both
    load, and the one that starts second finds the other's units and is refused. Either way
    one run ends with exit 0, the other with one line, and every unit has one setting."""
    out = tmp_path / "r"
    if existing:
        out.mkdir()
    real, loads, second = lm_model.load_model, [], []

    def load(*args, **kwargs):
        loads.append(None)
        if not second:
            second.append(None)
            second[:] = [main(_repro(models, out, "--tokens", "5")), capsys.readouterr().err]
        return real(*args, **kwargs)

    monkeypatch.setattr(lm_model, "load_model", load)
    code = main(_repro(models, out, "--tokens", "4"))
    err = capsys.readouterr().err.strip().splitlines()
    if existing:
        assert second[0] == 2 and second[1].strip() == _in_use("repro", out, os.getpid())
        assert len(loads) == 1  # refused before loading
        assert code == 0
        tokens = 4
    else:
        assert second[0] == 0 and len(loads) == 2
        assert code == 2 and len(err) == 1
        assert err[0].startswith("coupling repro: error: ")
        assert "made with other settings (tokens: stored 5, now 4)" in err[0]
        tokens = 5
    units = sorted((out / "invariance" / "units").glob("*.json"))
    assert units and {json.loads(u.read_text())["settings"]["tokens"] for u in units} == {tokens}
    before = _files(out)
    other = 9 - tokens
    code, err = _run(capsys, _repro(models, out, "--tokens", str(other)))
    assert code == 2 and len(err) == 1
    assert f"other settings (tokens: stored {tokens}, now {other})" in err[0]
    assert _files(out) == before


@pytest.mark.parametrize(
    "first,second,held",
    [("repro", "reproduce", "root/repro"), ("reproduce", "repro", "root/repro"),
     ("reproduce", "reproduce", "root")],
)  # fmt: skip
def test_reproduce_holds_the_directories_of_its_parts(first, second, held, tmp_path, capsys,
                                                      monkeypatch):  # fmt: skip
    """`coupling reproduce --out root` writes root/repro, which `coupling repro` (default
    --out results/repro under the default root results) may be pointed at."""
    root = tmp_path / "root"
    (root / "repro").mkdir(parents=True)  # both exist: a resumed run
    (root / "repro" / "keep.txt").write_text("stored before")
    out = {"repro": root / "repro", "reproduce": root}
    outcome = []

    def load(*args, **kwargs):
        if not outcome:
            outcome.append(None)
            outcome[:] = [main([second, "--out", str(out[second])]), capsys.readouterr().err]
        raise RuntimeError("no model in this test")

    monkeypatch.setattr(lm_model, "load_model", load)
    code, err = _run(capsys, [first, "--out", str(out[first])])
    assert code == 2 and err == [f"coupling {first}: error: no model in this test"]
    holder = root if held == "root" else root / "repro"
    assert outcome[0] == 2 and outcome[1].strip() == _in_use(second, holder, os.getpid())
    assert _files(tmp_path) == {"root/repro/keep.txt": b"stored before"}


# -- item 6 (half): no --out is left behind by a run that fails before its work ---------------


@pytest.mark.parametrize("command", ["repro", "reproduce"])
def test_a_failed_model_load_leaves_no_out_behind(command, tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("google/gemma-2-27b-it is not in the local cache (offline)")

    monkeypatch.setattr(lm_model, "load_model", offline)
    out = tmp_path / "new" / "out"
    code, err = _run(capsys, [command, "--preset", "gemma2", "--out", str(out)])
    assert code == 2
    assert err == [f"coupling {command}: error: google/gemma-2-27b-it is not in the local cache "
                   "(offline)"]  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_whose_cluster_is_unreachable_leaves_no_out_behind(tmp_path, capsys,
                                                                    monkeypatch):  # fmt: skip
    import coupling.cli_sweep as cli_sweep
    from coupling._output import CommandError

    def unreachable(args):
        raise CommandError("cannot reach the scheduler tcp://nowhere:8786: timed out")

    monkeypatch.setattr(cli_sweep, "_executor", unreachable)
    out = tmp_path / "out"
    code, err = _run(capsys, [*TINY_SWEEP, "--out", str(out)])
    assert code == 2 and err == ["coupling sweep: error: cannot reach the scheduler "
                                 "tcp://nowhere:8786: timed out"]  # fmt: skip
    assert list(tmp_path.iterdir()) == []


# -- item 2: a results file that cannot be replaced -------------------------------------------

DENIALS = ("directory", "permission", "immutable")


def _deny(how, path, monkeypatch):
    """Make the file ``path`` impossible to replace; returns the undo."""
    if how == "directory":  # a directory where the file was: rename(2) refuses to replace it
        content = path.read_bytes()
        path.unlink()
        path.mkdir()
        (path / "keep").write_text("x")

        def undo():
            shutil.rmtree(path)
            path.write_bytes(content)

        return undo
    if how == "permission":  # as in a sticky directory of another user's file
        real = os.replace

        def replace(src, dst, *args, **kwargs):
            if Path(dst) == path:
                raise PermissionError(errno.EACCES, "Permission denied")
            return real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", replace)
        return monkeypatch.undo
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    return lambda: subprocess.run([chattr, "-i", str(path)], check=True)


REASONS = {"directory": "Is a directory", "permission": "Permission denied",
           "immutable": "Operation not permitted"}  # fmt: skip


def _denied_write(capsys, argv, path, how):
    """The rerun resumes (its progress bars run) and ends on the denied file in one line."""
    code, err = _run(capsys, argv)
    assert code == 2 and not any("Traceback" in line for line in err), err
    assert err[-1] == (f"coupling {argv[0]}: error: cannot write {path}: {REASONS[how]}; the "
                       "results stored before it are intact")  # fmt: skip


def _rerun_once_allowed(argv, out, before):
    """Once the file may be replaced again, the rerun ends normally with the same files (the
    PDF figures aside: they hold their creation time)."""
    assert main(argv) == 0
    after = _files(out)
    assert after.keys() == before.keys()
    assert {k: v for k, v in after.items() if not k.endswith(".pdf")} == {
        k: v for k, v in before.items() if not k.endswith(".pdf")}  # fmt: skip


@pytest.mark.parametrize("how", DENIALS)
def test_sweep_with_a_results_file_it_cannot_replace(how, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    argv = [*TINY_SWEEP, "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    before, denied = _files(out), out / "results.csv"
    undo = _deny(how, denied, monkeypatch)
    try:
        _denied_write(capsys, argv, denied, how)
    finally:
        undo()
    assert _files(out) == before  # the store, the other summaries and the file itself
    with contextlib.closing(sqlite3.connect(out / "sweep.sqlite")) as db:
        assert db.execute("SELECT COUNT(*) FROM cells").fetchone() == (3,)
    _rerun_once_allowed(argv, out, before)


@pytest.mark.parametrize("how", DENIALS)
def test_repro_with_a_results_file_it_cannot_replace(how, models, one_thread, tmp_path, capsys,
                                                     monkeypatch):  # fmt: skip
    out = tmp_path / "r"
    argv = _repro(models, out, "--tokens", "4")
    assert main(argv) == 0
    capsys.readouterr()
    before, denied = _files(out), out / "invariance" / "texts.md"
    undo = _deny(how, denied, monkeypatch)
    try:
        _denied_write(capsys, argv, denied, how)
    finally:
        undo()
    assert _files(out) == before  # every unit, settings and table kept
    _rerun_once_allowed(argv, out, before)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    from coupling.outputs import WriteError, atomic_write_text, remove_file

    path = tmp_path / "table.csv"
    path.write_text("old")

    def refuse(src, dst):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(WriteError) as caught:
        atomic_write_text(path, "new")
    assert isinstance(caught.value, OSError)
    assert str(caught.value) == f"cannot write {path}: Operation not permitted"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"] and path.read_text() == "old"
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(WriteError, match=f"cannot write {blocked / 'sub' / 't.csv'}: "):
        atomic_write_text(blocked / "sub" / "t.csv", "new")  # a path component that is a file
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    with pytest.raises(WriteError, match="cannot remove"):
        remove_file(tmp_path / "d")


# -- item 14: the README's numbers come from a script -----------------------------------------


def _readme_numbers():
    spec = importlib.util.spec_from_file_location(
        "readme_numbers", ROOT / "benchmarks" / "readme_numbers.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_readmes_list_coupling_table_is_what_the_script_prints():
    readme = (ROOT / "README.md").read_text()
    lines = _readme_numbers().list_coupling_table()
    assert len(lines) == 6
    for line in lines:
        assert line in readme, line
    assert "python3 benchmarks/readme_numbers.py lists" in readme


def test_the_block_efficiency_table_is_read_from_a_results_directory(tmp_path):
    from coupling.outputs import atomic_write_text, csv_text

    rows = [{"drafter": "exit16", "gamma": 1, "be_sd": 1.2143, "be_disd-gumbel": 1.1847,
             "be_disd-wmh": 1.1616},
            {"drafter": "temp1.25", "gamma": 8, "be_sd": 4.4937, "be_disd-gumbel": 4.0672,
             "be_disd-wmh": 3.5766}]  # fmt: skip
    atomic_write_text(tmp_path / "repro" / "sd" / "block_efficiency.csv", csv_text(rows))
    table = _readme_numbers().block_efficiency_table(tmp_path)
    assert table == [
        "| drafter | gamma | SD | DISD-Gumbel (÷ SD) | DISD-WMH (÷ SD) |",
        "| --- | --- | --- | --- | --- |",
        "| exit16 | 1 | 1.214 | 1.185 (0.98) | 1.162 (0.96) |",
        "| temp1.25 | 8 | 4.494 | 4.067 (0.91) | 3.577 (0.80) |",
    ]
    readme = (ROOT / "README.md").read_text()
    assert table[0] in readme and "python3 benchmarks/readme_numbers.py lm" in readme
    assert "| exit8 |" not in readme  # the first drafters' table is gone
