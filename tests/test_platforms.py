"""Everywhere Paddle runs, as far as this Linux machine can show it: the commands run with the
modules Windows' Python lacks made unimportable; no module of the package imports one; a Paddle
older than the floor, or none where a command needs one, is one line. (The install's resolution
on macOS arm64, Windows and Linux, and runs on the oldest and newest Python and Paddle, are
CI's .ci/resolve and .ci/versions.)"""

import ast
import os
import signal
import subprocess
import sys
import time
import urllib.request

import tomllib

from mnist import runtime

from conftest import REPO, free_port, one_line_error, run

WINDOWS_LACKS = ("fcntl", "resource", "termios", "pwd", "grp")
OLD_RUN = REPO / "tests" / "data" / "run-2026-12-01"


def with_path(folder, env=None):
    """An environment whose PYTHONPATH puts ``folder`` before the repository (and before
    ``env``'s own PYTHONPATH)."""
    rest = (env or {}).get("PYTHONPATH", str(REPO))
    return {**(env or {}), "PYTHONPATH": f"{folder}{os.pathsep}{rest}"}


def test_the_floor_is_written_once():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["cpu"] == [f"paddlepaddle>={runtime.FLOOR}"]
    assert not [d for d in project["dependencies"] if d.startswith("paddle")], project


def test_versions_are_read_as_paddle_writes_them():
    assert runtime.version_tuple("3.3.1") == (3, 3, 1)
    assert runtime.version_tuple("3.3.1.post126") == (3, 3, 1)  # a GPU build's
    assert runtime.too_old("2.6.2") and "3.0.0 or newer" in runtime.too_old("2.6.2")
    assert runtime.too_old("3.0.0") is runtime.too_old("3.3.1") is None
    assert runtime.too_old("0.0.0") is None and runtime.too_old("") is None  # develop builds
    assert runtime.too_old(None) is None  # no Paddle: said where a command needs it


def blocker(tmp_path):
    """A folder whose sitecustomize makes Windows' missing modules unimportable from the
    project's code (mnist/ and the entry points) in every Python started with it on PYTHONPATH,
    the commands' children too. Other packages keep them: on Linux they import them as their
    Linux branch, where on Windows they take another (gradio's huggingface_hub, filelock)."""
    folder = tmp_path / "windows"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(f"""\
import builtins, os
LACKS, REPO = {WINDOWS_LACKS!r}, {str(REPO)!r}
_import = builtins.__import__

def _windows_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {{}}).get("__file__") or ""
    if level == 0 and name.partition(".")[0] in LACKS and importer.startswith(REPO + os.sep) \\
            and not importer.startswith(os.path.join(REPO, "tests")):
        raise ModuleNotFoundError(f"No module named {{name!r}} (as on Windows)", name=name)
    return _import(name, globals, locals, fromlist, level)

builtins.__import__ = _windows_import
""")
    return folder


def test_the_commands_run_without_the_modules_windows_lacks(tmp_path, datafile):
    """A short train, predict, compare and the app's page, with fcntl, resource, termios, pwd
    and grp unimportable."""
    env = with_path(blocker(tmp_path))
    as_mnist = f"exec('import fcntl', {{'__file__': {str(REPO / 'mnist' / 'x.py')!r}}})"
    probe = run([sys.executable, "-c", as_mnist], env=env)
    assert probe.returncode == 1 and "No module named 'fcntl'" in probe.stderr  # it can fail
    assert run([sys.executable, "-c", "import fcntl"], env=env).returncode == 0  # others: theirs
    run_dir, params = tmp_path / "run", tmp_path / "m.pdparams"
    trained = run([sys.executable, str(REPO / "train.py"), "--datafile", str(datafile), "--limit",
                   "2000", "--epochs", "1", "--run-dir", str(run_dir), "--save", str(params)],
                  env=env)
    assert trained.returncode == 0 and "eval accuracy" in trained.stdout, trained.stderr
    seven = datafile.parent / "examples" / "digit_7.png"
    predicted = run([sys.executable, str(REPO / "predict.py"), "--params", str(params),
                     str(seven)], env=env)
    assert predicted.returncode == 0 and predicted.stdout.startswith(f"{seven}: "), \
        predicted.stderr
    compared = run([sys.executable, str(REPO / "compare.py"), str(run_dir), str(OLD_RUN)],
                   cwd=tmp_path, env=env)
    assert compared.returncode == 0 and "final valid" in compared.stdout, compared.stderr
    assert (tmp_path / "work" / "compare.png").is_file()
    for result in (trained, predicted, compared):
        assert "Traceback" not in result.stderr, result.stderr

    port = free_port()
    app = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port),
                            "--work", str(tmp_path), "--datafile", str(datafile)],
                           cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        page, deadline = None, time.time() + 120
        while page is None and time.time() < deadline and app.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            except OSError:
                time.sleep(0.5)
        assert page is not None and b"gradio" in page.lower(), app.poll()
    finally:
        app.send_signal(signal.SIGINT)  # Ctrl-C (Paddle answers SIGTERM with a report of its own)
        out = app.communicate(timeout=30)[0]
    assert "Traceback" not in out and "No module named" not in out, out


def imported_modules(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.partition(".")[0])
    return names


def test_no_module_of_the_commands_imports_what_windows_lacks():
    """Anywhere in the package and the entry points, inside functions too."""
    files = [*(REPO / "mnist").rglob("*.py"), *REPO.glob("*.py")]
    found = {str(p.relative_to(REPO)): sorted(imported_modules(p) & set(WINDOWS_LACKS))
             for p in files if imported_modules(p) & set(WINDOWS_LACKS)}
    assert not found, found
    assert "resource" in imported_modules(REPO / "benchmarks" / "train_speed.py")  # it sees them


def command(*args):
    """A command as a user types it: ``python SCRIPT.py ...`` (from the repository) or
    ``python -m MODULE ...``."""
    script = [str(REPO / args[0])] if args[0].endswith(".py") else [args[0]]
    return [sys.executable, *script, *args[1:]]


COMMANDS = [command("train.py"), command("predict.py", "x.png"),
            command("compare.py", str(OLD_RUN)), command("export.py"), command("app.py"),
            command("-m", "mnist.data"), command("-m", "mnist.report", str(OLD_RUN))]


def test_an_older_paddle_is_one_line_for_every_command(tmp_path):
    """Paddle 2.6.2's metadata before the real one: every command stops at once and says which
    version it needs (the metadata is read before Paddle is imported)."""
    info = tmp_path / "old" / "paddlepaddle-2.6.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: paddlepaddle\nVersion: 2.6.2\n")
    for cmd in COMMANDS:
        result = run(cmd, cwd=tmp_path, env=with_path(tmp_path / "old"))
        assert result.returncode == 2, (cmd, result.stderr)
        one_line_error(result, "PaddlePaddle 2.6.2 is older than this project needs",
                       f"({runtime.FLOOR} or newer)", "pip install")


def test_no_paddle_is_one_line_where_a_command_needs_it(tmp_path, datafile):
    """A paddle package that cannot be imported, as on a machine without Paddle: train.py, the
    data command and predict.py with a .pdparams say how to install it in one line; compare.py
    needs no Paddle and runs."""
    fake = tmp_path / "nopaddle" / "paddle"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'paddle'\", name='paddle')\n")
    env = with_path(tmp_path / "nopaddle")
    for cmd in (command("train.py"), command("-m", "mnist.data"),
                command("predict.py", "--params", str(REPO / "mnist" / "models" / "robust.pdparams"),
                        str(datafile.parent / "examples" / "digit_7.png"))):
        result = run(cmd, cwd=tmp_path, env=env)
        assert result.returncode == 2, (cmd, result.stderr)
        one_line_error(result, "PaddlePaddle is not installed", "pip install",
                       "paddlepaddle>=3.0.0")
    compared = run(command("compare.py", str(OLD_RUN)), cwd=tmp_path, env=env)
    assert compared.returncode == 0, compared.stderr
