"""Which transport delivers which kind of outbox message; any other kind
goes as a signed POST (integration.outbox.post)."""

from __future__ import annotations

from integration import province, upload
from integration.outbox import Transport

TRANSPORTS: dict[str, Transport] = {"csw-insert": province.send_csw, "csw-update": province.send_csw,
                                    "csw-delete": province.send_csw, "upload": upload.send}
