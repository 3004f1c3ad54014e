"""PostgreSQL-only tuning (ARCHITECTURE.md, "Concurrency rules"; "Scale-out").

- Claims turn `available` rows into `claimed` ones at the head of the partial index;
  until vacuum runs, every claim walks over those dead entries (a 5,100 -> 1,500 claims/s
  sawtooth was measured). Aggressive per-table autovacuum keeps the head clean.
- Voucher events grow fastest and are appended in time order: a BRIN index on the time
  is tiny and serves range scans.
"""

from django.db import migrations

VOUCHER_AUTOVACUUM = """
ALTER TABLE vouchers_voucher SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05
)
"""
VOUCHER_AUTOVACUUM_RESET = """
ALTER TABLE vouchers_voucher RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_cost_delay, autovacuum_analyze_scale_factor,
    autovacuum_vacuum_insert_scale_factor
)
"""
EVENT_BRIN = (
    "CREATE INDEX IF NOT EXISTS voucher_event_created_brin "
    "ON vouchers_voucherevent USING brin (created_at)"
)
EVENT_BRIN_DROP = "DROP INDEX IF EXISTS voucher_event_created_brin"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(VOUCHER_AUTOVACUUM)
    schema_editor.execute(EVENT_BRIN)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(VOUCHER_AUTOVACUUM_RESET)
    schema_editor.execute(EVENT_BRIN_DROP)


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
