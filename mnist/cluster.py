"""Where a run computes: the device, and this process's place among the processes of a
``paddle.distributed.launch`` job (rank 0 of 1 when run alone). Paddle's own launcher and
collectives do all the coordinating; nothing here talks to other processes by itself.
"""

from __future__ import annotations

import hashlib
import os

import paddle
import paddle.distributed as dist

from mnist.cli import CliError


def set_device(requested: str) -> str:
    """Compute on ``requested`` ('auto', 'cpu' or 'gpu') and return which it is: 'auto' is
    the GPU when this Paddle was built with CUDA and sees one, else the CPU, as pytorch/examples
    takes the accelerator when there is one."""
    cuda = paddle.device.is_compiled_with_cuda()
    if requested == "gpu" and not cuda:
        raise CliError("--device gpu: this Paddle was built without CUDA (install a GPU build "
                       "of Paddle), use --device cpu")
    device = requested
    if requested == "auto":
        device = "gpu" if cuda and paddle.device.cuda.device_count() > 0 else "cpu"
    paddle.set_device(device)
    return device


class Cluster:
    """This process's place in a ``paddle.distributed.launch`` job (rank 0 of 1 when run alone).

    Data parallel: every process holds the whole model, takes its share of each global batch of
    ``--batch-size`` images, and ``paddle.DataParallel`` averages the gradients, so a step is the
    step one process would take on the whole batch. Rank 0 alone prints and writes files.
    """

    def __init__(self, batch_size: int):
        """Joins the launch's process group; a global batch of ``batch_size`` must split evenly
        among its processes. That is checked first, from the launcher's environment, so every
        rank fails alike before any waits for the others (a rank that left while another was
        still connecting made that one time out instead of printing the error)."""
        self.world = dist.get_world_size()
        if batch_size % self.world:
            raise CliError(f"--batch-size {batch_size} (the global batch) must be a multiple "
                           f"of the {self.world} processes")
        if self.world > 1:
            dist.init_parallel_env()
        self.rank = dist.get_rank()
        self.local_rank = int(os.environ.get("PADDLE_LOCAL_RANK", self.rank))
        self.main = self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all processes."""
        if self.world == 1:
            return values
        t = paddle.to_tensor(values, dtype="float64")
        dist.all_reduce(t)
        return t.tolist()

    def broadcast_int(self, value: int) -> int:
        if self.world == 1:
            return value
        t = paddle.to_tensor([value], dtype="int64")
        dist.broadcast(t, src=0)
        return int(t.item())

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def same_parameters(self, net) -> bool:
        """True when every process holds bit-identical parameters (compares an md5 of them)."""
        if self.world == 1:
            return True
        digest = hashlib.md5()
        for _name, p in sorted(net.state_dict().items()):
            digest.update(p.numpy().tobytes())
        fingerprint = int(digest.hexdigest()[:15], 16)  # fits in an int64
        high = paddle.to_tensor([fingerprint], dtype="int64")
        low = paddle.to_tensor([-fingerprint], dtype="int64")
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MAX)
        return int(high.item()) == -int(low.item())
