"""Blind indexes over the folded code (issue 9): re-index vouchers of `exact` batches.

Until now a voucher of an `exact` batch (imported card secrets) was indexed under its
code as delivered, so `abcd-efgh-jkmn-pqrs` and a generated `ABCDEFGHJKMNPQRS` could
both exist and the till found the imported one. Now every voucher is indexed under its
folded form (vouchers/secrets.py). Generated codes are born folded, so only vouchers of
`exact` batches are looked at: each is opened, folded and re-indexed when that changes
its index. A voucher whose folded form another voucher already holds keeps its old index
(nothing is changed for it) and its serial is printed: such pairs answer to one printed
code and need an operator's decision (void one). Lookups try the exact form first, so
those vouchers are still found.
"""

from django.db import migrations

from riskcontrol.crypto import CODE_FORMAT_CROCKFORD, CODE_FORMAT_EXACT, codec, normalise_code

PURPOSE = "voucher.code"
CHUNK = 2000


def _reindex(apps, schema_editor, *, fold: bool):
    Voucher = apps.get_model("vouchers", "Voucher")
    every = Voucher.objects.using(schema_editor.connection.alias)
    vouchers = every.filter(batch__code_format="exact")
    if not vouchers.exists():
        return
    # Only now: the codec needs the keys, which a database without such vouchers (a
    # fresh install, the tests) may not have configured.
    sealer = codec()
    left_alone = []
    last = 0
    while True:
        chunk = list(
            vouchers.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "serial", "secret_ciphertext", "secret_index", "batch__code")[
                :CHUNK
            ]
        )
        if not chunk:
            break
        last = chunk[-1][0]
        for pk, serial, ciphertext, index, batch_code in chunk:
            code = sealer.decrypt(ciphertext, aad=f"voucher:{batch_code}:{serial}".encode())
            form = normalise_code(code, CODE_FORMAT_CROCKFORD if fold else CODE_FORMAT_EXACT)
            wanted = sealer.blind_index(form, purpose=PURPOSE)
            if wanted == bytes(index):
                continue
            if every.filter(secret_index=wanted).exists():
                left_alone.append(serial)
                continue
            every.filter(pk=pk).update(secret_index=wanted)
    if left_alone:
        print(  # noqa: T201 - a migration's only way to tell the operator
            f"\n  {len(left_alone)} vouchers read the same as another voucher once folded and "
            f"keep their old index; void one of each pair: {', '.join(left_alone[:100])}"
        )


def forwards(apps, schema_editor):
    _reindex(apps, schema_editor, fold=True)


def backwards(apps, schema_editor):
    _reindex(apps, schema_editor, fold=False)


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0006_card_stock_jobs")]

    operations = [migrations.RunPython(forwards, backwards)]
