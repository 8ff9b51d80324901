"""train.py under ``paddle.distributed.launch``: 2 CPU processes train the same model as one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paddle
import pytest

from conftest import REPO, free_port, run_script

FLAGS = ("--limit", "4000", "--seed", "3", "--log-interval", "1")


def launch(tmp_path, name, *args, nproc=2, wait=True):
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc),
           "--log_dir", str(tmp_path / f"{name}-log"), str(REPO / "train.py"), *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def losses(run_dir):
    rows = (run_dir / "loss_log.csv").read_text().splitlines()[1:]
    return np.array([float(r.split(",")[2]) for r in rows])


def summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


@pytest.fixture(scope="module")
def single(tmp_path_factory, datafile):
    out = tmp_path_factory.mktemp("single")
    result = run_script("train.py", "--datafile", datafile, "--run-dir", out / "run",
                        "--save", out / "p.pdparams", "--epochs", "2", *FLAGS)
    assert result.returncode == 0, result.stderr
    return out


def test_two_processes_train_the_same_model_and_resume(single, datafile, tmp_path):
    run_dir, params = tmp_path / "run", tmp_path / "p.pdparams"
    first = launch(tmp_path, "a", "--datafile", datafile, "--run-dir", run_dir, "--save", params,
                   "--epochs", "1", *FLAGS)
    assert first.returncode == 0, first.stdout[-3000:]
    assert "parameters identical on all 2 processes" in first.stdout
    # the lesson's lines come once, from rank 0, not once per process
    assert first.stdout.count("epoch: 0, batch: 7, loss is:") == 1
    resumed = launch(tmp_path, "b", "--resume", run_dir, "--save", params, "--epochs", "2")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert "parameters identical on all 2 processes" in resumed.stdout

    # the same global batches, split over two processes: the same run up to float rounding
    one, two = losses(single / "run"), losses(run_dir)
    assert len(one) == len(two) == 80
    np.testing.assert_allclose(two, one, rtol=2e-3, atol=1e-4)
    s1, s2 = summary(single / "run"), summary(run_dir)
    assert s2["processes"] == 2 and s2["epochs"] == 2
    assert abs(s1["eval_accuracy"] - s2["eval_accuracy"]) <= 0.005, (s1, s2)
    a = paddle.load(str(single / "p.pdparams"))
    b = paddle.load(str(params))
    assert a.keys() == b.keys()
    # Rounding alone moves conv1's bias (entries ~1e-4 to 1e-2) by up to ~2e-4 over these 80
    # steps: the same single-process run with --conv onednn and --conv paddle ends 1.8e-4 apart.
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), rtol=1e-3, atol=5e-4, err_msg=k)
    # only rank 0 wrote: one loss log with one row per batch
    assert sorted(p.name for p in run_dir.iterdir()) == \
        [".lock", ".owner", "checkpoint.pd", "config.json", "loss_log.csv", "metrics.jsonl",
         "model.pdparams", "report.png", "summary.json"]


def test_global_batch_must_split_evenly(datafile, tmp_path):
    result = launch(tmp_path, "odd", "--datafile", datafile, "--run-dir", tmp_path / "run",
                    "--batch-size", "101", "--limit", "1000")
    assert result.returncode != 0
    assert "must be a multiple of the 2 processes" in result.stdout
    assert not (tmp_path / "run").exists()


def rank_pids(marker: str, rank: int) -> list[int]:
    """The pids of the training processes of rank ``rank`` whose command line holds marker."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if marker in cmdline and "paddle.distributed.launch" not in cmdline and \
                f"PADDLE_TRAINER_ID={rank}".encode() in environ:
            pids.append(int(proc.name))
    return pids


def test_a_dying_rank_fails_the_launch_instead_of_hanging(datafile, tmp_path):
    run_dir = tmp_path / "doomed"
    job = launch(tmp_path, "doomed", "--datafile", datafile, "--run-dir", run_dir, "--save",
                 tmp_path / "p.pdparams", "--epochs", "3", *FLAGS, wait=False)
    try:
        log = run_dir / "loss_log.csv"
        deadline = time.time() + 180
        while time.time() < deadline and (not log.exists() or len(log.read_text()) < 200):
            time.sleep(0.5)
        assert log.exists(), "training did not start"
        (victim,) = rank_pids(str(run_dir), rank=1)
        os.kill(victim, signal.SIGKILL)
        output, _ = job.communicate(timeout=120)
    finally:
        job.kill()
    assert job.returncode != 0
    assert "failed" in output.lower()
    assert not (tmp_path / "p.pdparams").exists()


# ----------------------------------------------------------------------------------------------
# Two nodes: two launchers that meet at a master address, as on two machines (here on loopback)
# ----------------------------------------------------------------------------------------------

NODE_FLAGS = ("--limit", "10000", "--seed", "4", "--log-interval", "1", "--epochs", "2")


def start_node(tmp_path, name, master, rank, *args):
    """One node of a 2-node job: `python -m paddle.distributed.launch --master HOST:PORT
    --nnodes 2 --rank R --nproc_per_node 1 train.py ...`, the command docs/distributed.md gives."""
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--master", master, "--nnodes", "2",
           "--rank", str(rank), "--nproc_per_node", "1", "--log_dir",
           str(tmp_path / f"{name}-node{rank}"), str(REPO / "train.py"), *map(str, args)]
    return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def two_nodes(tmp_path, name, *args):
    master = f"127.0.0.1:{free_port()}"
    return [start_node(tmp_path, name, master, rank, *args) for rank in (0, 1)]


def finish(nodes, timeout=300):
    """(exit code, output) of each node, every node stopped by the end."""
    try:
        return [(n.communicate(timeout=timeout)[0], n.returncode)[::-1] for n in nodes]
    finally:
        for n in nodes:
            n.kill()


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory, datafile):
    out = tmp_path_factory.mktemp("one-process")
    result = run_script("train.py", "--datafile", datafile, "--run-dir", out / "run",
                        "--save", out / "p.pdparams", *NODE_FLAGS)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def two_node_run(tmp_path_factory, datafile):
    out = tmp_path_factory.mktemp("two-nodes")
    nodes = two_nodes(out, "whole", "--datafile", datafile, "--run-dir", out / "run",
                      "--save", out / "p.pdparams", *NODE_FLAGS)
    return out, finish(nodes)


def test_two_nodes_train_the_one_process_model(two_node_run, one_process_run):
    out, [(code0, log0), (code1, log1)] = two_node_run
    assert code0 == 0, log0[-3000:]
    assert code1 == 0, log1[-3000:]
    # all parameters compared across the nodes at the end (an md5 of them, all-reduced)
    assert "parameters identical on all 2 processes" in log0
    # rank 0 alone writes: one run directory, one loss log with a row per batch
    assert "saved" not in (out / "whole-node1" / "workerlog.0").read_text()
    assert len(losses(out / "run")) == 200
    assert summary(out / "run")["processes"] == 2
    np.testing.assert_allclose(losses(out / "run"), losses(one_process_run / "run"), rtol=2e-3,
                               atol=1e-4)
    a, b = paddle.load(str(one_process_run / "p.pdparams")), paddle.load(str(out / "p.pdparams"))
    for k in a:  # float rounding only (see test_two_processes_train_the_same_model_and_resume)
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), rtol=1e-3, atol=5e-4, err_msg=k)


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_lost_node_stops_the_other_and_both_resume(two_node_run, datafile, tmp_path):
    run_dir = tmp_path / "run"
    nodes = two_nodes(tmp_path, "lost", "--datafile", datafile, "--run-dir", run_dir,
                      "--save", tmp_path / "p.pdparams", *NODE_FLAGS)
    try:
        metrics = run_dir / "metrics.jsonl"
        wait_for(lambda: metrics.exists() and metrics.read_text(), 240, "the first epoch")
        time.sleep(0.5)  # into the second epoch
        (worker,) = rank_pids(str(run_dir), rank=1)
        for pid in (nodes[1].pid, worker):  # the machine is gone: its launcher and worker
            os.kill(pid, signal.SIGKILL)
        lost_at = time.time()
        output, _ = nodes[0].communicate(timeout=120)
        stopped_after = time.time() - lost_at
    finally:
        for n in nodes:
            n.kill()
    assert nodes[0].returncode != 0, output[-3000:]
    assert stopped_after < 60, stopped_after
    assert len(losses(run_dir)) < 200  # it stopped in the middle
    assert not (tmp_path / "p.pdparams").exists()

    # the one command that continues, on both nodes
    [(code0, log0), (code1, log1)] = finish(two_nodes(tmp_path, "resumed", "--resume", run_dir,
                                                      "--save", tmp_path / "p.pdparams"))
    assert code0 == 0 and code1 == 0, (log0[-3000:], log1[-3000:])
    whole = two_node_run[0]
    assert (run_dir / "loss_log.csv").read_text() == (whole / "run" / "loss_log.csv").read_text()
    a, b = paddle.load(str(whole / "p.pdparams")), paddle.load(str(tmp_path / "p.pdparams"))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_sigterm_to_every_process_of_a_launch_saves_and_resumes(one_process_run, datafile,
                                                                tmp_path):
    """As a scheduler preempts a job (SLURM signals every process, Kubernetes the launcher,
    which passes it on): the ranks stop after the same batch, rank 0 saves a checkpoint and
    says how to resume, and the resumed launch ends like the uninterrupted run."""
    run_dir = tmp_path / "run"
    job = launch(tmp_path, "preempted", "--datafile", datafile, "--run-dir", run_dir, "--save",
                 tmp_path / "p.pdparams", *NODE_FLAGS, wait=False)
    try:
        metrics = run_dir / "metrics.jsonl"
        wait_for(lambda: metrics.exists() and metrics.read_text(), 240, "the first epoch")
        time.sleep(0.5)  # into the second epoch
        workers = rank_pids(str(run_dir), rank=0) + rank_pids(str(run_dir), rank=1)
        assert len(workers) == 2
        for pid in (job.pid, *workers):
            os.kill(pid, signal.SIGTERM)
        output, _ = job.communicate(timeout=120)
    finally:
        job.kill()
    assert job.returncode != 0  # the launcher's own code for a signal
    rank0 = (tmp_path / "preempted-log" / "workerlog.0").read_text()
    assert "terminated (SIGTERM) at epoch 1, batch " in rank0, rank0[-3000:]
    assert f"checkpoint saved; continue with python train.py --resume {run_dir}" in rank0
    stopped = paddle.load(str(run_dir / "checkpoint.pd"))["position"]
    assert stopped["epoch"] == 1 and 0 < stopped["batch"] < 100, stopped
    assert not (tmp_path / "p.pdparams").exists()

    resumed = launch(tmp_path, "resumed", "--resume", run_dir, "--save", tmp_path / "p.pdparams")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert f"resuming {run_dir} at epoch 1, batch {stopped['batch']}" in resumed.stdout
    np.testing.assert_allclose(losses(run_dir), losses(one_process_run / "run"), rtol=2e-3,
                               atol=1e-4)
    a, b = paddle.load(str(one_process_run / "p.pdparams")), paddle.load(str(tmp_path / "p.pdparams"))
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), rtol=1e-3, atol=5e-4, err_msg=k)
