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


def set_device(device: str) -> None:
    if device == "gpu" and not paddle.device.is_compiled_with_cuda():
        raise CliError("--device gpu: this Paddle was built without CUDA (install "
                         "paddlepaddle-gpu), use --device cpu")
    paddle.set_device(device)



class Cluster:
    """This process's place in a ``paddle.distributed.launch`` job (rank 0 of 1 when run alone).

    Data parallel: every process holds the whole model, takes its share of each global batch of
    ``--batch-size`` images, and ``paddle.DataParallel`` averages the gradients, so a step is the
    step one process would take on the whole batch. Rank 0 alone prints and writes files.
    """

    def __init__(self):
        self.world = dist.get_world_size()
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
