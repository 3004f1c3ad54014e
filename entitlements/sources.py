"""Where a benefit's units come from. Each source kind is one class with the same three
methods; `SOURCE_KINDS` maps a `BenefitSource.kind` to it. Adding a kind (supplier
products, with the suppliers issue) is one new class and one entry here: the grant
service, the stock figures and the console only call these methods.

Sources fulfil through the owning app's services (a voucher batch through
`vouchers.services.voucher_claim`), so claims, voucher events and batch limits stay one
code path; entitlements never writes another app's tables."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import transaction

from members.models import Member
from riskcontrol.core.actors import Actor
from vouchers.errors import BatchNotActive, LimitReached, SoldOut
from vouchers.models import Voucher
from vouchers.selectors import batch_stock_many
from vouchers.services import voucher_claim

from .models import BenefitSource


@dataclass(frozen=True)
class Taken:
    """One unit handed out: the voucher and its code (shown once, to the grant's caller)."""

    voucher: Voucher
    code: str


class SourceLimit(Exception):
    """A source has units, but its own rule refuses this member more of them."""

    def __init__(self, detail) -> None:
        super().__init__(str(detail))
        self.detail = detail


class Source:
    kind: str = ""

    def label(self, source: BenefitSource) -> str:
        raise NotImplementedError

    def stock_many(self, sources: list[BenefitSource]) -> dict[int, int | None]:
        """Units available per source id (None: unknown or unlimited), in few queries."""
        raise NotImplementedError

    def take(
        self, source: BenefitSource, *, member: Member, quantity: int, channel: str, actor: Actor
    ) -> list[Taken] | None:
        """Hand `quantity` units to the member, all or none; None when this source has
        none to give (empty, closed). Raises `SourceLimit` when it has, but not for this
        member (a batch's per-member limit)."""
        raise NotImplementedError


class BatchSource(Source):
    kind = BenefitSource.Kind.BATCH

    def label(self, source: BenefitSource) -> str:
        return source.batch.code if source.batch_id else ""

    def stock_many(self, sources: list[BenefitSource]) -> dict[int, int | None]:
        stock = batch_stock_many({source.batch_id for source in sources})
        return {source.pk: stock[source.batch_id][Voucher.Status.AVAILABLE] for source in sources}

    def take(
        self, source: BenefitSource, *, member: Member, quantity: int, channel: str, actor: Actor
    ) -> list[Taken] | None:
        taken: list[Taken] = []
        try:
            # One unit is one claim, all or nothing by itself; several are one block.
            with transaction.atomic() if quantity > 1 else nullcontext():
                for _unit in range(quantity):
                    result = voucher_claim(
                        batch=source.batch,
                        member=member,
                        channel=channel,
                        trace={"via": "grant"},
                        actor=actor,
                    )
                    taken.append(Taken(voucher=result.voucher, code=result.code))
        except (SoldOut, BatchNotActive):
            return None
        except LimitReached as error:
            raise SourceLimit(error.detail) from error
        return taken


SOURCE_KINDS: dict[str, Source] = {BatchSource.kind: BatchSource()}


def source_for(source: BenefitSource) -> Source:
    return SOURCE_KINDS[source.kind]


def stock_by_source(sources: Iterable[BenefitSource]) -> dict[int, int | None]:
    """Available units per source id, one round of queries per source kind."""
    by_kind: dict[str, list[BenefitSource]] = {}
    for source in sources:
        by_kind.setdefault(source.kind, []).append(source)
    stock: dict[int, int | None] = {}
    for kind, rows in by_kind.items():
        stock.update(SOURCE_KINDS[kind].stock_many(rows))
    return stock
