"""`python -m config.devserver`: the web server, a Celery worker and beat, together.

Ctrl-C (or any one of them exiting) stops all three.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

PROCESSES = {
    "web": [sys.executable, "manage.py", "runserver", "127.0.0.1:8000"],
    "worker": [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--loglevel", "INFO", "--concurrency", "2",
    ],
    "beat": [
        sys.executable, "-m", "celery", "-A", "config", "beat",
        "--loglevel", "INFO", "--schedule", "var/celerybeat-schedule",
    ],
}  # fmt: skip


def main() -> int:
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in PROCESSES.items():
        children[name] = subprocess.Popen(command)  # noqa: S603 (our own fixed commands)
        print(f"[devserver] started {name} (pid {children[name].pid})", flush=True)
    print("[devserver] http://127.0.0.1:8000/admin/ — Ctrl-C stops everything", flush=True)

    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"[devserver] {name} exited with {child.returncode}; stopping", flush=True)
                exit_code = child.returncode or 1
                stopping = True
                break
        time.sleep(0.5)

    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    print("[devserver] stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
