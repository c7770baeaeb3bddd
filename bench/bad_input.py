"""The bad-input run (issue 14): at least 10,000 requests spread over every endpoint, holding lone
surrogates, NUL bytes, 10 MB bodies, deep nesting, overlong numbers and wrong types
(tests/bad_input_support.py builds them from the OpenAPI document). Prints the status counts, every
5xx, and the status of every list endpoint and a fresh link, click, lead and sale afterwards;
exits 1 on any 5xx, any request left unanswered, or any of those not answering 200 (302 for the click).

    .venv/bin/python bench/bad_input.py [--requests 12000]
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time

from common import ROOT, create_key, free_port, server_env, start_shortener, wait_ready

sys.path.insert(0, str(ROOT / "tests"))
import bad_input_support  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=12_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = server_env(f"127.0.0.1:{port}", sqlite_synchronous="normal", webhook_allow_private="true")
        key = create_key(tmp, env)
        proc = start_shortener(tmp, port, env, quiet=True)
        try:
            wait_ready(port, proc)
            url = f"http://127.0.0.1:{port}"
            started = time.monotonic()
            counts = bad_input_support.run(url, key, args.requests, concurrency=args.concurrency)
            elapsed = time.monotonic() - started
            after = bad_input_support.after_check(url, key)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    for line in counts.server_errors + counts.no_answer + counts.not_dub_json:
        print(line)
    print("per endpoint:", dict(sorted(counts.by_endpoint.items())))
    print(counts.line())
    print(f"{elapsed:.0f} s")
    print("after the run:", after)
    broken = {k: v for k, v in after.items() if v != (302 if k.startswith("GET /{key}") else 200)}
    return 1 if counts.server_errors or counts.no_answer or broken else 0


if __name__ == "__main__":
    sys.exit(main())
