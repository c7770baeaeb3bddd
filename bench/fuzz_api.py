"""The long schemathesis run (issue 14): a server on a throwaway data dir, every documented operation
fuzzed with `--examples` cases per generation mode plus as many with hostile values (lone
surrogates, NUL, 300-digit numbers, 100,000-character strings). Prints the case count, the status
counts and every failure; exits 1 if there was any.

    .venv/bin/python bench/fuzz_api.py [--examples 100] [--seed N]

The suite runs the same engine with a few examples per operation (tests/test_fuzz_api.py).
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time

from common import ROOT, create_key, free_port, server_env, start_shortener, wait_ready

sys.path.insert(0, str(ROOT / "tests"))
from fuzz_support import fuzz  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and mode")
    parser.add_argument("--seed", type=int, default=0, help="0: derandomized (the same cases every run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = server_env(f"127.0.0.1:{port}", sqlite_synchronous="normal")
        key = create_key(tmp, env)
        proc = start_shortener(tmp, port, env, quiet=True)
        try:
            wait_ready(port, proc)
            started = time.monotonic()
            report = fuzz(f"http://127.0.0.1:{port}/api", key, examples=args.examples, seed=args.seed)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    for line in report.failures:
        print(line)
    print(report.line())
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
