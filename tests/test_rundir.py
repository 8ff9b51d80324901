"""The run directory (mnist/rundir.py): what a run writes, and that a run directory written by an
earlier version still reads, resumes, predicts and reports.

tests/data/run-2026-12-01/ was written by the code of 2026-12-01, before the run directory had
one owner (`python train.py --limit 500 --epochs 1 --seed 2`, its report.png left out): its
config.json has no steps_per_epoch and no conv, which later runs record.
"""

import json
import shutil

import numpy as np

from mnist.params import load_params
from mnist.rundir import RunDir
from mnist.runlog import read_run

from conftest import REPO, run_module, run_script, train_run

OLD_RUN = REPO / "tests" / "data" / "run-2026-12-01"


def test_a_new_run_records_how_it_computed_and_its_steps(tmp_path_factory, datafile):
    _result, run_dir, _params = train_run(tmp_path_factory, datafile, "recorded", "--limit",
                                          "700", "--batch-size", "50", "--epochs", "1",
                                          "--seed", "2")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["steps_per_epoch"] == 14
    assert config["conv"] in ("onednn", "paddle")
    assert RunDir(run_dir).steps_per_epoch() == 14
    assert read_run(str(run_dir)).epochs[-1] == 13 / 14  # the last batch of epoch 0


def test_an_old_run_directory_still_reads(tmp_path):
    assert "steps_per_epoch" not in json.loads((OLD_RUN / "config.json").read_text())
    run = read_run(str(OLD_RUN))
    assert len(run.losses) == 5 and run.epochs == [0, 0.2, 0.4, 0.6, 0.8]
    assert run.valid_accuracy and run.eval_accuracy is not None
    result = run_script("compare.py", OLD_RUN, "--out", tmp_path / "c.png", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["epochs"] == 1


def test_an_old_run_directory_resumes_predicts_and_reports(tmp_path_factory, datafile, tmp_path):
    """Its checkpoint continues in today's code, exactly as a run of today's code would have
    gone on: the same loss log and parameters for the same seed."""
    old = tmp_path / "old"
    shutil.copytree(OLD_RUN, old)
    config = json.loads((old / "config.json").read_text())
    config["datafile"] = str(datafile)  # where this machine keeps the data
    (old / "config.json").write_text(json.dumps(config))
    resumed = run_script("train.py", "--resume", old, "--epochs", "2", "--save",
                         tmp_path / "p.pdparams")
    assert resumed.returncode == 0, resumed.stderr
    _r, fresh, fresh_params = train_run(tmp_path_factory, datafile, "fresh", "--limit", "500",
                                        "--epochs", "2", "--seed", "2")
    assert (old / "loss_log.csv").read_text() == (fresh / "loss_log.csv").read_text()
    # to float rounding: the old checkpoint's first epoch ran an earlier build of the oneDNN
    # operator (another kernel for the second convolution, another order of summation)
    a, b = load_params(tmp_path / "p.pdparams"), load_params(fresh_params)
    assert a.keys() == b.keys()
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), rtol=1e-4, atol=1e-6) for k in a)
    assert RunDir(old).config()["steps_per_epoch"] == 5  # recorded from now on

    picture = datafile.parent / "examples" / "digit_7.png"
    predicted = run_script("predict.py", "--model", OLD_RUN / "model.pdparams", picture)
    assert predicted.returncode == 0, predicted.stderr
    copy = tmp_path / "report"
    shutil.copytree(OLD_RUN, copy)
    reported = run_module("mnist.report", copy, "--datafile", datafile)
    assert reported.returncode == 0, reported.stderr
    assert (copy / "report.png").stat().st_size > 10_000
