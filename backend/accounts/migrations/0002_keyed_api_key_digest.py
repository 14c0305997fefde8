"""API keys: the stored SHA-256 digests become keyed digests; the clear key prefix goes.

Rows issued before hold ``SHA-256(key)``; the new form is ``HMAC-SHA-256(secret,
SHA-256(key))`` (backend/accounts/keys.py), so each row is re-keyed in place and every issued
key keeps working. The first characters of each key (``api_key_prefix``) are replaced by a
random ``key_id`` that says nothing of the key. Not reversible: the unkeyed digests are not
kept, on purpose.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import migrations, models


def rehash_digests(apps, schema_editor):
    """What ``keys.keyed_digest`` computes, written out so that this migration never changes."""
    ApiClient = apps.get_model("accounts", "ApiClient")
    secret = settings.GROVE_KEY_HASH_SECRET.encode("utf-8")
    for client in ApiClient.objects.all().only("id", "api_key_digest", "key_id"):
        plain = client.api_key_digest.encode("ascii")
        client.api_key_digest = hmac.new(secret, plain, hashlib.sha256).hexdigest()
        client.key_id = secrets.token_hex(4)
        client.save(update_fields=["api_key_digest", "key_id"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="apiclient", name="api_key_prefix"),
        migrations.AddField(
            model_name="apiclient",
            name="key_id",
            field=models.CharField(
                default="",
                editable=False,
                help_text="A random label to tell keys apart; not part of the key.",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(rehash_digests),
    ]
