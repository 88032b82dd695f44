"""HTTPS for the emulator: the server's TLS context and the one its control calls use.

``server_context`` serves ``certfile`` (with ``keyfile``, or the key inside ``certfile``)
and, given ``client_ca``, requires a client certificate that CA signed (mutual TLS). It
trusts nothing else for client certificates: not the system's CAs.

``pinned_context`` is what ``Emulator``'s control calls use by default: it trusts exactly
the first certificate in ``certfile`` (the one the server presents) and no CA, so it needs
no CA file and no host-name check, and only a server holding that certificate's private
key passes it. It presents no client certificate.
"""

from __future__ import annotations

import dataclasses
import os
import re
import ssl
from pathlib import Path
from typing import TypeAlias

__all__ = ["TLSFiles", "check_tls_files", "pinned_context", "server_context"]

#: A path as the constructor and ``open`` take it.
StrPath: TypeAlias = "str | os.PathLike[str]"

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.S)


@dataclasses.dataclass(frozen=True)
class TLSFiles:
    """The checked, absolute paths of the TLS files (``certfile`` ``None``: plain HTTP)."""

    certfile: Path | None
    keyfile: Path | None = None
    client_ca: Path | None = None

    @property
    def enabled(self) -> bool:
        """Serve HTTPS."""
        return self.certfile is not None


def check_tls_files(
    certfile: StrPath | None,
    keyfile: StrPath | None,
    client_ca: StrPath | None,
    *,
    names: tuple[str, str, str] = ("certfile", "keyfile", "client_ca"),
) -> TLSFiles:
    """Check the combination and that each file given exists; absolute paths.

    ``names`` are how the messages call the three (keywords, or command-line flags).

    Raises:
        ValueError: a key or client CA without ``certfile``, or a path that is not a file;
            the message starts with the parameter's name.
    """
    cert_name, key_name, ca_name = names
    if certfile is None:
        for value, name in ((keyfile, key_name), (client_ca, ca_name)):
            if value is not None:
                raise ValueError(f"{name}: needs {cert_name} (the server's certificate) as well")
        return TLSFiles(None)
    return TLSFiles(
        _existing(certfile, cert_name),
        _existing(keyfile, key_name),
        _existing(client_ca, ca_name),
    )


def _existing(value: StrPath | None, name: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(f"{name}: must be a path (str or os.PathLike), got {value!r}")
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"{name}: no such file: {os.fspath(value)}")
    return path


def server_context(files: TLSFiles, *, names: tuple[str, str, str] | None = None) -> ssl.SSLContext:
    """The server side: TLS 1.2 or later, a client certificate required with ``client_ca``.

    Raises:
        ValueError: a file is not PEM, or the key does not match the certificate.
    """
    cert_name, key_name, ca_name = names or ("certfile", "keyfile", "client_ca")
    assert files.certfile is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.certfile, files.keyfile)
    except (ssl.SSLError, OSError) as exc:
        which = cert_name if files.keyfile is None else f"{cert_name}/{key_name}"
        raise ValueError(
            f"{which}: cannot load the certificate and its private key (PEM): {exc}"
        ) from None
    if files.client_ca is not None:
        try:
            context.load_verify_locations(cafile=files.client_ca)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"{ca_name}: cannot load the CA certificate (PEM): {exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def pinned_context(certfile: Path) -> ssl.SSLContext:
    """A client context that trusts exactly the first certificate of ``certfile``."""
    found = _PEM_CERT.search(certfile.read_text(encoding="ascii", errors="replace"))
    if found is None:
        raise ValueError(f"certfile: no PEM certificate in {certfile}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The pinned certificate is the trust anchor: no CA, and no host name to check.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=found.group(0))
    return context
