"""tools/riskcontrol_moves.py rewrites the old flat riskcontrol paths (issue 10)."""

# riskcontrol_moves: leave this file

import importlib.util
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "tools" / "riskcontrol_moves.py"
_spec = importlib.util.spec_from_file_location("riskcontrol_moves", SCRIPT)
moves = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(moves)

OLD = """from riskcontrol.actors import Actor
from riskcontrol import api as riskcontrol_api, crypto
import riskcontrol.text
from riskcontrol import (
    errors,
    services,
)


def later():
    from riskcontrol.guessing import guess_keys

    return riskcontrol.text.validate_identifier, guess_keys


MIDDLEWARE = ["riskcontrol.middleware.RequestIdMiddleware", "riskcontrol.crypto.codec"]
PROFILE = ("authenticate", "riskcontrol/authentication.py")
KEEP = "riskcontrol.services.partner_client_create", "riskcontrol.textual"
"""

NEW = """from riskcontrol.core.actors import Actor
from riskcontrol import crypto
from riskcontrol.http import health as riskcontrol_api
import riskcontrol.core.text
from riskcontrol import services
from riskcontrol.core import errors


def later():
    from riskcontrol.rules.guessing import guess_keys

    return riskcontrol.core.text.validate_identifier, guess_keys


MIDDLEWARE = ["riskcontrol.http.middleware.RequestIdMiddleware", "riskcontrol.crypto.codec"]
PROFILE = ("authenticate", "riskcontrol/http/authentication.py")
KEEP = "riskcontrol.services.partner_client_create", "riskcontrol.textual"
"""


def test_old_paths_become_new_ones_and_a_second_run_changes_nothing():
    assert moves.rewrite(OLD) == NEW
    assert moves.rewrite(NEW) == NEW


def test_every_new_module_exists():
    for new in moves.MOVES.values():
        assert importlib.util.find_spec(new) is not None, new


def test_it_rewrites_the_files_it_is_given(tmp_path):
    path = tmp_path / "caller.py"
    path.write_text("from riskcontrol.problems import problem\n", encoding="utf-8")

    assert moves.main([str(tmp_path)]) == 0

    assert path.read_text(encoding="utf-8") == "from riskcontrol.http.problems import problem\n"
    assert moves.main(["--check", str(tmp_path)]) == 0


def test_it_leaves_a_file_with_the_marker_alone(tmp_path):
    text = f"# {moves.LEAVE_MARKER}\nfrom riskcontrol.problems import problem\n"
    (tmp_path / "fixture.py").write_text(text, encoding="utf-8")

    assert moves.main(["--check", str(tmp_path)]) == 0
