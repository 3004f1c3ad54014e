"""The sealed store of uploaded card-stock files now lives in `vouchers.cardstock.uploads`;
this module keeps the old import path (`from vouchers.upload_store import seal_stream`)
working and holds nothing of its own."""

from .cardstock.uploads import (
    CHUNK,
    EncryptingUploadHandler,
    SealedUploadedFile,
    SealedWriter,
    delete_stale_uploads,
    delete_upload,
    open_upload,
    seal_stream,
    upload_dir,
)

__all__ = [
    "CHUNK",
    "EncryptingUploadHandler",
    "SealedUploadedFile",
    "SealedWriter",
    "delete_stale_uploads",
    "delete_upload",
    "open_upload",
    "seal_stream",
    "upload_dir",
]
