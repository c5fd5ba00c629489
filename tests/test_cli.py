"""The command line: output a machine can read, and clean errors."""

import json

import pytest
from coupling.simulate import collision_probability, estimate
from coupling.simulate.families import make_pair

from coupling.cli import main


def test_simulate_json(capsys):
    rc = main(
        ["simulate", "--family", "zipf", "--n", "200", "--trials", "50000", "--seed", "3", "--json"]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    pair = make_pair("zipf", 200, seed=3)
    assert out["D"] == pytest.approx(pair.D)
    for row in out["protocols"]:
        assert row["exact"] == pytest.approx(collision_probability(pair.p, pair.q, row["protocol"]))
        assert row["ci95"][0] <= row["estimate"] <= row["ci95"][1]
        assert abs(row["z"]) < 5
    assert out["bounds"]["(1-D)/(1+D)"] == pytest.approx((1 - pair.D) / (1 + pair.D))


def test_simulate_table_and_params(capsys):
    rc = main(
        [
            "simulate",
            "--family",
            "kset",
            "--n",
            "40",
            "--param",
            "k=8",
            "--param",
            "overlap=2",
            "--trials",
            "20000",
            "--engine",
            "faithful",
            "--protocols",
            "gumbel,wmh",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "D_TV=0.750000" in out and "gumbel" in out and "Wilson 95%" in out


@pytest.mark.parametrize("engine", ["fast", "faithful"])
def test_simulate_list_coupling_with_drafts(engine, capsys):
    """--protocols gls --drafts K: the exact value and the estimate of the library for K."""
    argv = ["simulate", "--family", "zipf", "--n", "60", "--protocols", "gumbel,gls", "--drafts",
            "4", "--trials", "3000", "--engine", engine, "--seed", "2"]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pair = make_pair("zipf", 60, seed=2)
    gumbel, gls = out["protocols"]
    assert out["drafts"] == 4 and gls["protocol"] == "gls"
    assert gls["exact"] == collision_probability(pair.p, pair.q, "gls", drafts=4)
    mc = estimate(pair.p, pair.q, "gls", 3000, seed=2, engine=engine, drafts=4)
    assert gls["estimate"] == mc.value  # the same keys as the library's
    assert gls["exact"] > gumbel["exact"]  # K = 4 drafts match more often than one
    assert main(argv) == 0
    assert "gls (K = 4)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "--family", "nope"], "unknown family"),
        (["simulate", "--protocols", "gumbel,bogus"], "unknown protocol"),
        (["simulate", "--engine", "gpu"], "unknown engine"),
        (["simulate", "--trials", "0"], "trials"),
        (["simulate", "--param", "alpha"], "KEY=VALUE"),
        (["simulate", "--param", "alpha=x"], "not a number"),
    ],
)
def test_errors_are_clean(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv,match", [
    (["decode", "--prompt", "  ", "--method", "sd", "--drafter", "exit8"], "--prompt is empty"),
    (["decode", "--prompt", "hi", "--gamma", "0", "--drafter", "exit8"], "--gamma must be >= 1"),
    (["decode", "--prompt", "hi", "--temperature", "0", "--drafter", "exit8"], "greedy"),
    (["decode", "--prompt", "hi", "--method", "beam"], "unknown method 'beam'"),
    (["decode", "--prompt", "hi", "--method", "sd"], "needs --drafter"),
])  # fmt: skip
def test_decode_refuses_bad_input_before_loading(capsys, argv, match):
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_drafters_lists_names(capsys):
    assert main(["drafters", "--json"]) == 0
    names = {d["name"] for d in json.loads(capsys.readouterr().out)}
    assert {"exit8", "exit16", "exit8-raw", "exit16-raw", "hf:PATH"} <= names


def test_the_cli_makes_openmp_wait_passively_unless_told(monkeypatch, capsys):
    """Spinning OpenMP waiters starve each other beside a busy process: every command sets
    the passive policy before torch loads, and leaves a user's own choice alone."""
    import os

    from coupling.simulate.validation import OPENMP_ENV

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert main(["prove", "--claim", "nope"]) == 2  # any command, even one refused
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" == OPENMP_ENV["OMP_WAIT_POLICY"]
    assert os.environ["GOMP_SPINCOUNT"] == OPENMP_ENV["GOMP_SPINCOUNT"]
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.delenv("GOMP_SPINCOUNT")
    main(["prove", "--claim", "nope"])
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE" and "GOMP_SPINCOUNT" not in os.environ


def test_default_threads_are_the_free_cores(monkeypatch):
    """--threads 0 takes the cores other processes leave free: one busy core of two gives one
    thread (the share is read from /proc/stat deltas, here faked)."""
    torch = pytest.importorskip("torch")
    from coupling.simulate import validation

    from coupling import _lm

    def sampled(*deltas):
        ticks = iter([(0, 0), *deltas])
        monkeypatch.setattr(validation, "_cpu_ticks", lambda cpus: next(ticks))
        return validation.free_cores(sample_seconds=0)

    monkeypatch.setattr(validation, "_affinity", lambda: {0, 1})
    monkeypatch.setattr(validation, "_cgroup_quota", lambda: None)
    assert validation.usable_cores() == 2
    assert sampled((500, 1000)) == 1  # one of the two CPUs busy
    assert sampled((50, 1000)) == 2  # a little background work: both free
    assert sampled((1000, 1000)) == 1  # both busy: never fewer than one
    monkeypatch.setattr(validation, "_cgroup_quota", lambda: 1)  # a container given 1 CPU
    assert validation.usable_cores() == 1 and sampled((0, 1000)) == 1
    monkeypatch.setattr(validation, "free_cores", lambda: 1)
    before = torch.get_num_threads()
    try:
        _lm.set_threads(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
