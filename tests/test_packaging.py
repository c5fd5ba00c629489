"""One import name: the wheel installs only ``coupling``, the face re-exports the library
lazily, and a foreign package with a generic name (``reports``) cannot hijack a command."""

import shutil
import subprocess
import sys
import zipfile

import pytest
from layout import FOLDERS, PACKAGES, ROOT

import coupling

_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "results", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of the source tree (the checkout is left untouched)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
           "--no-index", "--disable-pip-version-check", "-w", str(tmp / "dist"), str(source)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    (path,) = (tmp / "dist").glob("coupling-*.whl")
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_the_wheel_installs_one_top_level_package(wheel):
    tops = {name.split("/")[0] for name in wheel}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert tops - dist_info == {"coupling"}
    (info,) = dist_info
    top_level = f"{info}/top_level.txt"
    if top_level in wheel:  # setuptools writes it; its content is checked by the names above
        assert top_level in wheel


def test_the_wheel_holds_every_source_file_under_its_subpackage(wheel):
    want = set()
    for folder, package in FOLDERS.items():
        installed = package.replace(".", "/")
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".json", ".safetensors") and "__pycache__" not in path.parts:
                want.add(f"{installed}/{path.relative_to(ROOT / folder).as_posix()}")
    assert len(want) > 80
    assert sorted(want - set(wheel)) == []
    assert "coupling/paper_repro/adapters/exit16.safetensors" in want
    # every folder holding modules is a package the wheel lists (a new one is not forgotten)
    installs_as = {package: ROOT / folder for folder, package in FOLDERS.items()}
    for init in ROOT.glob("*/**/__init__.py"):
        top, *rest = init.parent.relative_to(ROOT).parts
        if top in FOLDERS:
            assert ".".join([FOLDERS[top], *rest]) in PACKAGES, init
    assert set(installs_as) <= set(PACKAGES)


def test_the_face_exports_a_sorted_public_api():
    assert coupling.__all__ == sorted(coupling.__all__)
    assert len(coupling.__all__) == len(set(coupling.__all__))
    for name in ("gumbel_sample", "wmh_sample", "collision_probability", "estimate",
                 "gls_sample", "list_matching", "interactive_sample", "relay_pairs"):  # fmt: skip
        assert name in coupling.__all__
    from coupling import simulate

    for name in simulate.__all__:  # the simulate package's whole API is at the top
        assert getattr(coupling, name) is getattr(simulate, name)
    for name in coupling.__all__:
        assert getattr(coupling, name) is not None
    assert set(coupling.__all__) <= set(dir(coupling))
    with pytest.raises(AttributeError, match="no attribute 'gumbel_sampel'"):
        coupling.gumbel_sampel  # noqa: B018


def test_import_and_a_sampler_call_load_neither_torch_nor_transformers():
    code = (
        "import sys, coupling\n"
        "a = coupling.gumbel_sample([0.5, 0.5], seed=0, key=0)\n"
        "coupling.collision_probability([0.5, 0.5], [0.4, 0.6], 'wmh')\n"
        "coupling.estimate([0.5, 0.5], [0.4, 0.6], 'gumbel', 100, seed=0)\n"
        "coupling.interactive_sample([0.5, 0.5], [0.4, 0.6], seed=0, key=0)\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, cwd=ROOT.parent)


def test_a_foreign_reports_package_first_on_the_path_changes_nothing(tmp_path):
    """Another distribution's top-level ``reports`` (here one that fails to import, like the
    one that needed pkg_resources) shadowed ours before; now ours is ``coupling.reports``."""
    for name in ("reports", "simulate", "figures", "outputs", "proofs"):
        stand_in = tmp_path / "site" / name
        stand_in.mkdir(parents=True)
        (stand_in / "__init__.py").write_text(
            "raise ModuleNotFoundError(\"No module named 'pkg_resources'\")\n"
        )
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = tmp_path / "sweep"
    argv = ["sweep", "--family", "dirichlet", "--n", "20", "--replicates", "2", "--trials",
            "200", "--workers", "1", "--seed", "1", "--out", str(out), "--json"]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "coupling", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "results.csv").is_file()
    proc = subprocess.run([sys.executable, "-m", "coupling", "prove", "--claim", "wmh-formula",
                           "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"proved"' in proc.stdout
