"""Who did what to a card-stock import: the job's audit events, and the sentence an
operator reads when a job fails.

Each state change of a `CardStockImport` (uploaded, checked, confirmed, imported,
failed, abandoned) writes one `CardStockImportEvent` with its actor, in the same
transaction as the change; the job functions in `cardstock` call `job_event`.
"""

from __future__ import annotations

import csv

from django.utils.translation import gettext as _

from riskcontrol.actors import Actor
from riskcontrol.errors import DomainError, ValidationFailed

from .models import CardStockImport, CardStockImportEvent

# The worker's own doings; an operator's are recorded under the operator.
WORKER = Actor.system("card-stock import")


def job_event(job: CardStockImport, action: str, actor: Actor, detail: str = "") -> None:
    CardStockImportEvent.objects.create(
        job=job,
        action=action,
        detail=detail[:255],
        actor_kind=actor.kind,
        actor_label=actor.label[:150],
        user_id=actor.user_id,
        context=actor.context(),
    )


def failure_message(error: Exception) -> str:
    """What an operator reads when a job fails: the domain error's own sentence, else
    the kind of failure only (an error's text may quote the file)."""
    if isinstance(error, ValidationFailed):
        return " ".join(str(message) for messages in error.errors.values() for message in messages)
    if isinstance(error, DomainError):
        return str(error.detail)
    if isinstance(error, UnicodeDecodeError | csv.Error | ValueError | KeyError):
        return _("The file cannot be read: %(error)s") % {"error": type(error).__name__}
    return _("The job failed (%(error)s); nothing was imported.") % {"error": type(error).__name__}
