"""Transaction helpers shared by the services."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from django.db import connection, transaction

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def joined_transaction() -> Iterator[None]:
    """The caller's transaction when there is one, else a new one.

    `transaction.atomic()` inside a transaction is a savepoint (two more round trips);
    a service whose every refusal is raised before its first write does not need one:
    when it refuses, it has written nothing to undo, and an error after a write (a
    database error) ends in the caller's savepoint or transaction, which rolls back.
    Use it only for such services, and keep them that way."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        yield


def in_joined_transaction(function: Callable[P, R]) -> Callable[P, R]:
    """`joined_transaction` as a decorator."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with joined_transaction():
            return function(*args, **kwargs)

    return wrapper
