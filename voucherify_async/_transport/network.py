"""Where the client's connections go: the proxy, TLS trust and client certificate.

Pure decisions on the options of `AsyncVoucherify` (``proxy``, ``trust_env``, ``ssl``,
``client_cert``), checked at construction so a bad value is a `ConfigurationError` naming
the option before any request. The proxy the environment names (``HTTPS_PROXY``,
``HTTP_PROXY``, ``NO_PROXY``, as curl, requests and httpx read them) is looked up once per
host, not on every request.
"""

from __future__ import annotations

import ipaddress
import os
import ssl as ssl_module
from collections.abc import Mapping
from typing import Union
from urllib.parse import quote, unquote, urlsplit

from .._exceptions import ConfigurationError

__all__ = [
    "ClientCertOption",
    "SSLOption",
    "bypasses",
    "check_base_url",
    "check_proxy",
    "env_proxy",
    "make_ssl_context",
    "mask_url",
    "url_secrets",
]

#: What ``ssl=`` takes: a context, a CA bundle (a file or a directory of PEM certificates),
#: or ``None`` for the system's trust store.
SSLOption = Union[ssl_module.SSLContext, str, "os.PathLike[str]", None]
#: What ``client_cert=`` takes: one PEM file holding the key and the certificate, or the
#: pair ``(certificate, key)``.
ClientCertOption = Union[str, "os.PathLike[str]", tuple[str, str], None]


def mask_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The strings of ``url`` never to show: its password, raw and percent-decoded."""
    if not url:
        return ()
    password = urlsplit(url).password
    if not password:
        return ()
    return tuple({password, unquote(password), quote(unquote(password), safe="")})


def check_base_url(url: object) -> str:
    """``url`` without a trailing slash, or a `ConfigurationError` saying what is wrong."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url must be an http:// or https:// URL, got {url!r}")
    parts = urlsplit(url)
    shown = mask_url(url)
    if not parts.hostname:
        raise ConfigurationError(f"base_url has no host: {shown!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"base_url must not carry credentials ({shown!r}): the keys go in app_id and app_token"
        )
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigurationError(f"base_url must not have a query or fragment, got {shown!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        fixed = url.rstrip("/")[: -len("/v1")]
        raise ConfigurationError(
            f"base_url must be the host without the API version: {fixed!r}, not {url!r}"
            " (the client adds /v1/... to every path)"
        )
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise ConfigurationError(f"base_url has an invalid port: {url!r}") from None
    return url.rstrip("/")


def check_proxy(proxy: object) -> str | None:
    """The proxy URL as given, or a `ConfigurationError` naming ``proxy`` (password masked)."""
    if proxy is None:
        return None
    if not isinstance(proxy, str):
        raise ConfigurationError(
            f"proxy must be a URL string such as 'http://user:password@proxy:3128', got"
            f" {type(proxy).__name__}"
        )
    parts = urlsplit(proxy)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"proxy must be an http:// or https:// URL with a host, such as"
            f" 'http://user:password@proxy:3128', got {mask_url(proxy)!r}"
        )
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise ConfigurationError(f"proxy has an invalid port: {mask_url(proxy)!r}") from None
    return proxy


def env_proxy(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment names for ``url``, or ``None`` (none set, or ``NO_PROXY``).

    Reads ``HTTPS_PROXY`` for https:// URLs and ``HTTP_PROXY`` for http:// ones (either
    case; ``ALL_PROXY`` too), and honours ``NO_PROXY`` (host names, domain suffixes, ``*``).
    """
    environ = os.environ if environ is None else environ
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        key = name.lower()
        # Lower case wins over upper case, as urllib reads them.
        if value and key.endswith("_proxy") and (name == key or key[:-6] not in proxies):
            proxies[key[:-6]] = value
    if "REQUEST_METHOD" in environ and environ.get("HTTP_PROXY") == proxies.get("http"):
        # A CGI request's Proxy header arrives as HTTP_PROXY ("httpoxy"): not a setting.
        proxies.pop("http", None)
    parts = urlsplit(url)
    if bypasses(parts.hostname or "", proxies.get("no", "")):
        return None
    found = proxies.get(parts.scheme) or proxies.get("all")
    if not found:
        return None
    if "://" not in found:
        found = "http://" + found  # curl's reading of a bare host:port
    return found


def bypasses(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (``no_proxy``'s value) exempts ``host`` from the proxy.

    Entries are separated by commas or spaces: ``*`` (every host), a host name (itself and
    its subdomains, with or without a leading dot), an IP address or a CIDR block; a
    ``:port`` on an entry is ignored.
    """
    host = host.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.replace(",", " ").split():
        entry = raw.lower()
        if entry == "*":
            return True
        if entry.startswith("[") and "]" in entry:
            entry = entry[1 : entry.index("]")]
        elif entry.count(":") == 1:
            entry = entry.partition(":")[0]
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def make_ssl_context(ssl: object, client_cert: object) -> ssl_module.SSLContext | None:
    """The context the client's connections verify the API with (``None``: aiohttp's default).

    ``ssl`` is an ``SSLContext`` (used as given), a CA bundle path (a PEM file, or a
    directory of them) trusted instead of the system's store, or ``None``. ``client_cert``
    adds a certificate the client presents (mutual TLS): a PEM file with the key and the
    certificate, or a ``(certificate, key)`` pair.
    """
    if ssl is not None and not isinstance(ssl, (ssl_module.SSLContext, str, os.PathLike)):
        raise ConfigurationError(
            "ssl must be an ssl.SSLContext, the path of a CA bundle (a PEM file or a directory"
            f" of them) or None, got {type(ssl).__name__}"
        )
    if isinstance(ssl, ssl_module.SSLContext):
        if client_cert is not None:
            raise ConfigurationError(
                "pass client_cert or an ssl.SSLContext, not both: load the certificate into"
                " the context (context.load_cert_chain(certfile, keyfile))"
            )
        return ssl
    if ssl is None and client_cert is None:
        return None
    context = ssl_module.create_default_context()
    if ssl is not None:
        path = os.fspath(ssl)
        try:
            if os.path.isdir(path):
                context.load_verify_locations(capath=path)
            else:
                context.load_verify_locations(cafile=path)
        except (OSError, ssl_module.SSLError) as exc:
            raise ConfigurationError(
                f"ssl: cannot read a CA bundle from {path!r} ({exc.__class__.__name__}: {exc});"
                " give a PEM file or a directory of PEM certificates"
            ) from None
    if client_cert is not None:
        if isinstance(client_cert, tuple) and len(client_cert) == 2:
            certfile, keyfile = (os.fspath(part) for part in client_cert)
        elif isinstance(client_cert, (str, os.PathLike)):
            certfile, keyfile = os.fspath(client_cert), None
        else:
            raise ConfigurationError(
                "client_cert must be the path of a PEM file with the key and the certificate,"
                f" or a (certificate, key) pair of paths, got {type(client_cert).__name__}"
            )
        try:
            context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl_module.SSLError) as exc:
            raise ConfigurationError(
                f"client_cert: cannot load {certfile!r}"
                f"{'' if keyfile is None else f' with key {keyfile!r}'}"
                f" ({exc.__class__.__name__}: {exc})"
            ) from None
    return context
