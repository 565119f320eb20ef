#!/usr/bin/env python3
"""Round trip of one C2SP add-checkpoint to `fpx witness serve` on loopback
(parse, log signature, consistency proof, durable SQLite commit, cosign),
beside the fsync of the same disk measured in the same run: quote the ratio,
the absolute figures move with the machine's load.

Usage: bench/witness_add_checkpoint.py build/bin/fpx [requests]
Reuses the independent C2SP code of tests/interop/cosignature_v1.py.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("c2sp", os.path.join(here, "..", "tests", "interop", "cosignature_v1.py"))
c2sp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(c2sp)


def quantile(values, q):
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def main():
    fpx = sys.argv[1]
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    log_key = c2sp.Ed25519PrivateKey.generate()
    log_vkey = c2sp.vkey(c2sp.ORIGIN, 0x01, c2sp.raw_public(log_key))
    leaves = [c2sp.leaf_hash(f"entry {i}".encode()) for i in range(requests + 1)]
    with tempfile.TemporaryDirectory(dir=os.getcwd()) as tmp:
        port = c2sp.free_port()
        wdir = os.path.join(tmp, "witness")
        subprocess.run([fpx, "witness", "init", wdir, "--name", "bench.example/w", "--listen", f"127.0.0.1:{port}",
                        "--log", f"{c2sp.ORIGIN}={log_vkey}"], check=True, capture_output=True)
        serve = subprocess.Popen([fpx, "witness", "serve", "--config", os.path.join(wdir, "witness.toml")],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        serve.stdout.readline()
        # Every request is built before the clock starts.
        bodies = []
        for n in range(1, requests + 1):
            note = c2sp.sign_checkpoint(log_key, n, c2sp.mth(leaves[:n]))
            bodies.append(c2sp.add_checkpoint_body(n - 1, c2sp.consistency_proof(n - 1, leaves[:n]), note))
        round_trips = []
        for body in bodies:
            start = time.perf_counter()
            status, _, _ = c2sp.post(port, body)
            round_trips.append(time.perf_counter() - start)
            assert status == 200, status
        serve.terminate()
        serve.wait()
        fsyncs = []
        fd = os.open(os.path.join(tmp, "fsync-probe"), os.O_WRONLY | os.O_CREAT, 0o600)
        for _ in range(requests):
            os.pwrite(fd, b"x" * 4096, 0)
            start = time.perf_counter()
            os.fsync(fd)
            fsyncs.append(time.perf_counter() - start)
        os.close(fd)
    # One `name value` line per figure (bench/README.md).
    print(f"witness_add_checkpoint_p50_ms {quantile(round_trips, .5) * 1e3:.2f}")
    print(f"witness_add_checkpoint_p99_ms {quantile(round_trips, .99) * 1e3:.2f}")
    print(f"disk_fsync_4k_p50_ms {quantile(fsyncs, .5) * 1e3:.2f}")
    print(f"disk_fsync_4k_p99_ms {quantile(fsyncs, .99) * 1e3:.2f}")
    print(f"witness_add_checkpoint_p50_over_fsync_p50 {quantile(round_trips, .5) / quantile(fsyncs, .5):.2f}")
    print(f"# requests {requests}", file=sys.stderr)

if __name__ == "__main__":
    main()
