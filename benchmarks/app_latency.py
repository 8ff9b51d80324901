"""Latency of the web app: 20 clients sending 500 requests over the Gradio API.

    python benchmarks/app_latency.py [--clients 20] [--requests 500] [--work work]

Starts ``app.py`` in its own process (with the environment this script started with) on a free
port of 127.0.0.1, then 20 threads with a ``gradio_client.Client`` each send their share of 500
``/predict_upload`` requests (a 112x112 eval digit, uploaded every time) and time them. Prints the
median and 95th-percentile latency seen by the clients, how many failed, and the time of one
prediction inside the server (the app's own function, timed in this process on the same picture;
target: at most 50 ms).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ENV = dict(os.environ)  # before anything imports Paddle, which sets OMP_NUM_THREADS=1 in it
REPO = Path(__file__).resolve().parent.parent


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--work", default="work")
    parser.add_argument("--picture", default="work/bench_pictures/00000.png")
    args = parser.parse_args()
    if not Path(args.picture).is_file():
        sys.exit(f"no {args.picture}: run benchmarks/predict.py once (it writes it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--work", args.work],
                              cwd=REPO, env=ENV, stdout=open("work/app-bench.log", "w"),
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.25)
        from gradio_client import Client, handle_file

        latencies, failures, lock = [], [], threading.Lock()
        share = [args.requests // args.clients + (i < args.requests % args.clients)
                 for i in range(args.clients)]

        def client_thread(n):
            client = Client(url, verbose=False)
            for _ in range(n):
                t = time.perf_counter()
                try:
                    message = client.predict("mnist.pdparams", handle_file(args.picture),
                                             api_name="/predict_upload")[0]
                    ok = "Prediction" in message
                except Exception as exc:  # counted, not raised: the figure is how many fail
                    ok, message = False, repr(exc)
                with lock:
                    (latencies if ok else failures).append(
                        time.perf_counter() - t if ok else message)

        threads = [threading.Thread(target=client_thread, args=(n,)) for n in share]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)

    from mnist.app import Models, predict_upload

    models = Models(Path(args.work))
    predict_upload(models, "mnist.pdparams", args.picture)  # loads the model once
    inside = []
    for _ in range(200):
        t = time.perf_counter()
        predict_upload(models, "mnist.pdparams", args.picture)
        inside.append(time.perf_counter() - t)
    ms = 1000
    print(f"{args.clients} clients, {args.requests} requests in {wall:.1f} s "
          f"({args.requests / wall:.0f} requests/s): {len(failures)} failed")
    print(f"latency seen by the clients: median {ms * statistics.median(latencies):.0f} ms, "
          f"95th percentile {ms * percentile(latencies, 95):.0f} ms")
    print(f"one prediction in the server: median {ms * statistics.median(inside):.1f} ms, "
          f"95th percentile {ms * percentile(inside, 95):.1f} ms (target <= 50 ms)")
    for f in failures[:3]:
        print("  failure:", f)


if __name__ == "__main__":
    main()
