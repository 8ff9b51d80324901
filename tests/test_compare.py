"""compare.py: run directories and captured text logs, the picture, the table, the errors."""

import json
import re
import shutil
import sys

import pytest

from mnist.runlog import read_run

from conftest import REPO, one_line_error, run, run_script, train_run


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, datafile):
    """A short real run that prints every batch; its stdout saved as a user would save it."""
    result, run_dir, _params = train_run(tmp_path_factory, datafile, "short", "--limit", "2000",
                                         "--epochs", "2", "--log-interval", "1", "--seed", "4")
    log = run_dir.parent / "short.log"
    log.write_text(result.stdout)
    return run_dir, log


def test_run_dir_and_text_log_parse_to_the_same_numbers(short_run):
    run_dir, log = short_run
    from_dir, from_log = read_run(str(run_dir)), read_run(str(log))
    assert len(from_dir.losses) == 40  # 2 epochs of 20 batches, every one printed
    assert from_log.epochs == from_dir.epochs
    assert from_log.epochs[:3] == [0.0, 0.05, 0.1] and from_log.epochs[-1] == 1.95
    assert from_log.losses == pytest.approx(from_dir.losses, rel=1e-5, abs=1e-7)
    assert [e for e, _ in from_log.valid_accuracy] == [1, 2]
    assert [a for _, a in from_log.valid_accuracy] == \
        pytest.approx([a for _, a in from_dir.valid_accuracy], abs=5e-5)
    assert from_log.eval_accuracy == pytest.approx(from_dir.eval_accuracy, abs=5e-5)
    assert from_log.wall_time_s == pytest.approx(from_dir.wall_time_s, abs=0.5)
    assert from_dir.loss == "cross_entropy"


def test_lesson_notebook_log_with_brackets(tmp_path):
    # What the lesson's notebook printed: brackets around the loss, 500 batches per epoch.
    lines = [f"epoch: {e}, batch: {b}, loss is: [{0.5 / (1 + e + b / 500):.7f}]"
             for e in range(2) for b in (0, 200, 400)]
    log = tmp_path / "square_error.txt"
    log.write_text("W1124 some warning\n" + "\n".join(lines) + "\n")
    run = read_run(str(log))
    assert run.epochs == [0.0, 0.4, 0.8, 1.0, 1.4, 1.8]
    assert run.losses[0] == 0.5 and len(run.losses) == 6
    assert run.loss == "mse"  # guessed from the file name
    assert run.valid_accuracy == [] and run.eval_accuracy is None


def test_picture_has_one_curve_per_run_and_the_table(short_run, momentum_run, tmp_path):
    run_dir, log = short_run
    _result, momentum_dir, _ = momentum_run
    out = tmp_path / "compare.svg"
    result = run_script("compare.py", run_dir, log, momentum_dir, "--out", out, "--json",
                        "--smooth", "3")
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    loss_curves = re.findall(r'id="loss: ([^"]+)"', svg)
    accuracy_curves = re.findall(r'id="accuracy: ([^"]+)"', svg)
    assert loss_curves == ["run", "short", "run (2)"]
    assert accuracy_curves == ["run", "short", "run (2)"]
    rows = json.loads(result.stdout)
    assert [r["epochs"] for r in rows] == [2, 2, 1]
    assert rows[2]["eval_accuracy"] >= 0.97 and rows[2]["loss"] == "cross_entropy"
    assert rows[0]["eval_accuracy"] == pytest.approx(rows[1]["eval_accuracy"], abs=5e-5)

    png = tmp_path / "compare.png"
    table = run_script("compare.py", run_dir, momentum_dir, "--out", png)
    assert table.returncode == 0, table.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    header = table.stdout.splitlines()[0].split()
    assert header[:3] == ["run", "loss", "epochs"] and "eval" in header


def test_errors_name_the_input_and_touch_nothing(short_run, tmp_path):
    run_dir, log = short_run
    out = tmp_path / "keep.png"
    out.write_bytes(b"an earlier picture")
    before = {p: p.stat().st_mtime_ns for p in run_dir.iterdir()}

    missing = run_script("compare.py", run_dir, tmp_path / "nope", "--out", out)
    assert missing.returncode == 2
    one_line_error(missing, "nope", "no such file")

    empty = tmp_path / "notes.txt"
    empty.write_text("nothing to see here\n")
    no_lines = run_script("compare.py", empty, "--out", out)
    assert no_lines.returncode == 2
    one_line_error(no_lines, "notes.txt", "no loss lines")

    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    assert run_script("compare.py", binary, "--out", out).returncode == 2

    not_a_run = tmp_path / "folder"
    not_a_run.mkdir()
    result = run_script("compare.py", not_a_run, "--out", out)
    assert result.returncode == 2
    one_line_error(result, "folder", "not a run directory")

    bad_out = run_script("compare.py", run_dir, "--out", tmp_path / "picture.txt")
    assert bad_out.returncode == 2
    one_line_error(bad_out, ".png")
    one_line_error(run_script("compare.py", run_dir, "--smooth", "0", "--out", out), "--smooth")

    assert out.read_bytes() == b"an earlier picture"
    assert {p: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before
    assert not (tmp_path / "picture.txt").exists()


def test_header_only_or_damaged_loss_log_is_named_in_one_line(short_run, tmp_path):
    run_dir = short_run[0]
    for name, text in [("header-only", "epoch,batch,loss\n"),
                       ("damaged", "epoch,batch,loss\n0,0,2.3\n0,x,2.2\n")]:
        broken = tmp_path / name
        broken.mkdir()
        shutil.copy(run_dir / "config.json", broken / "config.json")
        (broken / "loss_log.csv").write_text(text)
        result = run_script("compare.py", broken, "--out", tmp_path / f"{name}.png")
        assert result.returncode == 2
        one_line_error(result, broken / "loss_log.csv")
        assert not (tmp_path / f"{name}.png").exists()


def test_compare_does_not_need_paddle(short_run, tmp_path):
    blocker = tmp_path / "blocker" / "paddle"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('paddle is blocked in this test')\n")
    result = run([sys.executable, str(REPO / "compare.py"), str(short_run[0]),
                  "--out", str(tmp_path / "c.png")],
                 env={"PYTHONPATH": f"{blocker.parent}:{REPO}"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.png").stat().st_size > 10000
