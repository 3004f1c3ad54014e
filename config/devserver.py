"""`python -m config.devserver [--reload]`: the web server, a Celery worker and beat, together.

`make run` serves through gunicorn, as production does: several worker processes with
threads, static files from WhiteNoise, so the product on 127.0.0.1:8000 holds many
concurrent clients (Django's development server reset connections under 64). `make dev`
passes `--reload` and gets Django's auto-reloading development server instead.

Ctrl-C (or any one of the three exiting) stops all three.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

BIND = "127.0.0.1:8000"
# A request that runs longer than this is killed by gunicorn; the idempotency lease
# (IDEMPOTENCY_LEASE_SECONDS) must not be shorter, or a retry could overtake a live request.
WEB_TIMEOUT_SECONDS = os.environ.get("WEB_TIMEOUT_SECONDS", "30")
WEB_WORKERS = os.environ.get("WEB_WORKERS", "4")
WEB_THREADS = os.environ.get("WEB_THREADS", "8")


def web_command(*, reload: bool) -> list[str]:
    if reload:
        return [sys.executable, "manage.py", "runserver", BIND]
    return [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", BIND,
        "--workers", WEB_WORKERS,
        "--worker-class", "gthread",
        "--threads", WEB_THREADS,
        "--backlog", "2048",
        "--timeout", WEB_TIMEOUT_SECONDS,
        "--graceful-timeout", "10",
        "--access-logfile", "-",
    ]  # fmt: skip


def processes(*, reload: bool) -> dict[str, list[str]]:
    return {
        "web": web_command(reload=reload),
        "worker": [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--loglevel", "INFO", "--concurrency", "2",
        ],
        "beat": [
            sys.executable, "-m", "celery", "-A", "config", "beat",
            "--loglevel", "INFO", "--schedule", "var/celerybeat-schedule",
        ],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reload", action="store_true", help="Django's auto-reloading server instead of gunicorn."
    )
    args = parser.parse_args(argv)

    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in processes(reload=args.reload).items():
        children[name] = subprocess.Popen(command)  # noqa: S603 (our own fixed commands)
        print(f"[devserver] started {name} (pid {children[name].pid})", flush=True)
    print(f"[devserver] http://{BIND}/admin/ — Ctrl-C stops everything", flush=True)

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
