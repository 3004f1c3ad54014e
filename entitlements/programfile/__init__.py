"""The benefits' sections of the program file (PROGRAM.md): `benefits` (the catalog:
sources, fallbacks, pack items) and `tier_benefits` (the tier benefit matrix),
registered in `EntitlementsConfig.program_sections` and run by `riskcontrol.programfile`
after the members' sections (so a file may name the tiers it defines).

A benefit in the file is its full description, upserted by `code`: a field left out
takes its default, and its `sources`, `fallbacks` and `items` become exactly the lists
given, in that order. A matrix row is upserted by (tier, benefit) and keeps its id (the
dedupe keys of automatic grants name it). Objects the file does not name are left
alone. Operational state is not part of the program: the budget used, the units left
of a sourceless gift, the grants. Export writes only what differs from the defaults,
so `export | apply` changes nothing.
"""

from .benefits import BenefitsSection
from .tier_benefits import TierBenefitsSection

__all__ = ["BenefitsSection", "TierBenefitsSection"]
