"""Uploaded card-stock files at rest: only ever encrypted.

An upload is written as sealed 1 MiB chunks (AES-GCM through riskcontrol.crypto, each
bound to the upload id and its position, so chunks cannot be reordered or swapped) under
`CARD_STOCK_UPLOAD_DIR`, and read back through a streaming decryptor. The upload handler
encrypts as the request body arrives, so no plaintext temporary file is ever written; it
stops (and removes what it wrote) past `CARD_STOCK_UPLOAD_MAX_BYTES`, and remembers every
upload it started so that the view can remove those no import took over.
"""

from __future__ import annotations

import io
import secrets
import struct
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers, StopUpload

from riskcontrol.crypto import codec

CHUNK = 1024 * 1024
_LENGTH = struct.Struct(">I")


def upload_dir() -> Path:
    path = Path(settings.CARD_STOCK_UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _path(upload_id: str) -> Path:
    if not upload_id.isalnum():
        raise ValueError("bad upload id")
    return upload_dir() / f"{upload_id}.sealed"


def _aad(upload_id: str, index: int) -> bytes:
    return f"upload:{upload_id}:{index}".encode()


class SealedWriter:
    """Write plaintext in, sealed chunks out."""

    def __init__(self, upload_id: str | None = None) -> None:
        self.upload_id = upload_id or secrets.token_hex(16)
        self._file = open(_path(self.upload_id), "wb")  # noqa: SIM115 (closed in close())
        self._buffer = bytearray()
        self._index = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]))
            del self._buffer[:CHUNK]

    def _seal(self, plain: bytes) -> None:
        sealed = codec().encrypt_bytes(plain, aad=_aad(self.upload_id, self._index))
        self._file.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1

    def close(self) -> str:
        if self._buffer or self._index == 0:
            self._seal(bytes(self._buffer))
            self._buffer.clear()
        self._file.close()
        return self.upload_id

    def discard(self) -> None:
        """Stop writing and remove what was written."""
        self._buffer.clear()
        self._file.close()
        delete_upload(self.upload_id)


class _SealedReader(io.RawIOBase):
    def __init__(self, upload_id: str) -> None:
        self._file = open(_path(upload_id), "rb")  # noqa: SIM115 (closed in close())
        self._upload_id = upload_id
        self._index = 0
        self._plain = b""
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only rewinding (and asking where we are) is supported: readers sniff the
        first bytes of a file and start again."""
        if whence == io.SEEK_CUR and offset == 0:
            return self._position
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("a sealed upload can only be rewound")
        self._file.seek(0)
        self._index, self._plain, self._position = 0, b"", 0
        return 0

    def _next_chunk(self) -> bool:
        head = self._file.read(_LENGTH.size)
        if not head:
            return False
        (length,) = _LENGTH.unpack(head)
        sealed = self._file.read(length)
        self._plain = codec().decrypt_bytes(sealed, aad=_aad(self._upload_id, self._index))
        self._index += 1
        return True

    def readinto(self, buffer) -> int:
        while not self._plain:
            if not self._next_chunk():
                return 0
        size = min(len(buffer), len(self._plain))
        buffer[:size] = self._plain[:size]
        self._plain = self._plain[size:]
        self._position += size
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def open_upload(upload_id: str) -> io.BufferedReader:
    """A binary stream of the plaintext, decrypted chunk by chunk as it is read."""
    return io.BufferedReader(_SealedReader(upload_id), buffer_size=CHUNK)


def delete_upload(upload_id: str) -> None:
    _path(upload_id).unlink(missing_ok=True)


def delete_stale_uploads(*, older_than_seconds: int = 24 * 3600) -> int:
    """Remove sealed uploads nobody finished with (the beat task runs it)."""
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in upload_dir().glob("*.sealed"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def seal_stream(stream) -> tuple[str, int]:
    """Copy a readable binary stream into a new sealed upload; (upload id, size)."""
    writer = SealedWriter()
    try:
        while data := stream.read(CHUNK):
            writer.write(data)
    finally:
        upload_id = writer.close()
    return upload_id, writer.size


class SealedUploadedFile(UploadedFile):
    """What the encrypting upload handler hands to the view: a reference, no content."""

    def __init__(self, upload_id: str, name: str, size: int, content_type: str) -> None:
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self.upload_id = upload_id


class EncryptingUploadHandler(FileUploadHandler):
    """Seals an uploaded file as it streams in: nothing in clear on disk, and memory use
    stays at one chunk whatever the file size. Set it on the request before the view
    reads request.POST / request.FILES. A file over `CARD_STOCK_UPLOAD_MAX_BYTES` is
    removed as soon as it passes the limit and the rest of the body is skipped
    (`too_large` tells the view); `upload_ids` lists every upload it started, so that
    the view removes those that no import took over (a refused or failed request)."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.max_bytes = settings.CARD_STOCK_UPLOAD_MAX_BYTES
        self.upload_ids: list[str] = []
        self.too_large = False
        self._writer: SealedWriter | None = None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._writer = SealedWriter()
        self.upload_ids.append(self._writer.upload_id)
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._writer.write(raw_data)
        if self._writer.size > self.max_bytes:
            self._discard()
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return None

    def file_complete(self, file_size: int) -> SealedUploadedFile:
        upload_id = self._writer.close()
        self._writer = None
        return SealedUploadedFile(upload_id, self.file_name, file_size, self.content_type)

    def upload_interrupted(self) -> None:
        self._discard()

    def remove_unclaimed(self, claimed: Callable[[str], bool]) -> None:
        """After the view: remove a half-written upload and every upload that
        `claimed(upload_id)` says nobody took over."""
        self._discard()
        for upload_id in self.upload_ids:
            if not claimed(upload_id):
                delete_upload(upload_id)

    def _discard(self) -> None:
        if self._writer is not None:
            self._writer.discard()
            self._writer = None
