"""Many concurrent partner clients against a running server (`make run`).

    .venv/bin/python bench/api_clients.py --key <demo API key> [--clients 64] [--requests 20]

Each client opens its own connections and alternates reads (member, batch) with claims
on the demo batch, all started together. Prints the number of connection errors and
server errors (both must be 0), the status codes seen and the throughput. Traffic goes
only to the given base URL (127.0.0.1 by default) and stops by itself.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def client(
    *, base: str, key: str, member: str, batch: str, requests: int, barrier, results, lock
) -> None:
    parts = urlsplit(base)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    plan = [
        ("GET", f"/api/v1/members/{member}", None),
        ("GET", f"/api/v1/batches/{batch}", None),
        ("POST", f"/api/v1/batches/{batch}/claims", json.dumps({"member": member})),
    ]
    barrier.wait()
    for i in range(requests):
        method, path, body = plan[i % len(plan)]
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            outcome = response.status
        except (OSError, http.client.HTTPException) as exc:
            outcome = f"connection error: {type(exc).__name__}"
        finally:
            conn.close()
        with lock:
            results[outcome] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="a partner API key (make run prints one)")
    parser.add_argument("--member", default="M0001")
    parser.add_argument("--batch", default="WELCOME10")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20, help="per client")
    args = parser.parse_args()

    results: collections.Counter = collections.Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(args.clients + 1)
    threads = [
        threading.Thread(
            target=client,
            kwargs={
                "base": args.base,
                "key": args.key,
                "member": args.member,
                "batch": args.batch,
                "requests": args.requests,
                "barrier": barrier,
                "results": results,
                "lock": lock,
            },
        )
        for _ in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started

    total = sum(results.values())
    connection_errors = sum(n for k, n in results.items() if isinstance(k, str))
    server_errors = sum(n for k, n in results.items() if isinstance(k, int) and k >= 500)
    print(f"clients: {args.clients}, requests: {total}, elapsed: {elapsed:.1f} s")
    print(f"throughput: {total / elapsed:.0f} requests/s")
    print("outcomes: " + ", ".join(f"{k}: {n}" for k, n in sorted(results.items(), key=str)))
    print(f"connection errors: {connection_errors}, server errors: {server_errors}")
    return 1 if connection_errors or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
