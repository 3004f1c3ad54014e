"""Where django-import-export keeps an uploaded file between "preview" and "confirm".

Member files hold phone numbers and e-mail addresses. The library's `CacheStorage` put
them in the shared cache in clear for 24 hours; this one seals the file with the
platform codec (AES-GCM, bound to the entry's name) and keeps it for an hour, the time an
operator needs to confirm. Confirming or abandoning an import removes the entry.
"""

from __future__ import annotations

from uuid import uuid4

from django.core.cache import cache
from import_export.tmp_storages import BaseStorage

from ..crypto import codec


class SealedCacheStorage(BaseStorage):
    CACHE_LIFETIME = 3600
    CACHE_PREFIX = "import-sealed-"

    def _key(self) -> str:
        return self.CACHE_PREFIX + self.name

    def _aad(self) -> bytes:
        return f"import-upload:{self.name}".encode()

    def save(self, data: str | bytes) -> None:
        if not self.name:
            self.name = uuid4().hex
        is_text = isinstance(data, str)
        raw = data.encode("utf-8") if is_text else bytes(data)
        sealed = codec().encrypt_bytes(raw, aad=self._aad())
        cache.set(self._key(), (is_text, sealed), self.CACHE_LIFETIME)

    def read(self) -> str | bytes | None:
        stored = cache.get(self._key())
        if stored is None:
            return None
        is_text, sealed = stored
        raw = codec().decrypt_bytes(sealed, aad=self._aad())
        return raw.decode("utf-8") if is_text else raw

    def remove(self) -> None:
        cache.delete(self._key())
