"""`python -m config.envfile`: write a development `.env` with fresh keys, once.

An existing `.env` is never touched: its keys are what the local database's secrets are
encrypted under.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from riskcontrol.crypto import generate_key

ENV_PATH = Path(__file__).resolve().parent.parent / ".env"


def render() -> str:
    return (
        "# Written by `make run` for local development. Keep it: the demo database's\n"
        "# secrets are encrypted under these keys. Never use these values in production.\n"
        "DEBUG=true\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"VOUCHER_KEYS=dev1:{generate_key()}\n"
        f"VOUCHER_INDEX_KEY={generate_key()}\n"
    )


def main() -> int:
    if ENV_PATH.exists():
        print(f"{ENV_PATH.name} exists; keeping it.")
        return 0
    ENV_PATH.write_text(render(), encoding="utf-8")
    ENV_PATH.chmod(0o600)
    print(f"Wrote {ENV_PATH.name} with fresh development keys.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
