"""Fetch a web page or file by URL for ingestion, refusing requests into private networks.

SSRF guard: only ``http`` and ``https`` URLs are fetched, and every connection (the first one
and each redirect's) resolves its host itself, checks *every* resolved address and connects to
a checked address, so neither a redirect nor a DNS answer that changes between the check and
the connection (rebinding) can reach a loopback, private, link-local, shared (CGNAT),
multicast or reserved address. ``ARAG_ALLOW_PRIVATE_URLS=1`` (or ``allow_private=True``) turns
the address check off for intranet use. Environment proxies are not used: a proxy would make
the connection on our behalf, past the check.

Bodies are read as a stream and refused past :func:`tools.ingest.loaders.max_file_bytes`; the
content is then parsed by the file loaders (by content type) and the documents carry the URL
as ``source``.

A download has an overall deadline (``ARAG_URL_DEADLINE``, default 60 s) besides httpx's
per-read timeout: a server that drips a byte at a time never trips a per-read timeout. Every
socket read and write (TLS handshake, headers, redirects and body alike) is given at most the
time left, so the whole fetch ends by the deadline.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
import httpx
from langchain_core.documents import Document

from tools.ingest.loaders import LoaderError, load_file, max_file_bytes

ALLOWED_SCHEMES = frozenset({"http", "https"})
MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 20.0
DEADLINE_SECONDS = 60.0
_SUFFIX_BY_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "application/pdf": ".pdf",
}


class BlockedURLError(LoaderError):
    """The URL (or a redirect) points at a scheme or address ingestion may not fetch."""


def allow_private_default() -> bool:
    """Whether ``ARAG_ALLOW_PRIVATE_URLS`` allows private and loopback addresses."""
    return os.environ.get("ARAG_ALLOW_PRIVATE_URLS", "").strip().lower() in {"1", "true", "yes"}


def blocked_reason(address: str) -> str | None:
    """Why ``address`` (an IP literal) may not be fetched, or ``None`` if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 (mapped, 6to4 2002::/16, Teredo 2001::/32) is judged as the
        # IPv4 address it reaches; fec0::/10 (deprecated site-local) is internal.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            reason = blocked_reason(str(embedded))
            return f"{reason} via {ip}" if reason else None
        if ip.is_site_local:
            return f"a site-local address ({ip})"
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address ({ip})"
    if not ip.is_global:  # e.g. 100.64.0.0/10 (carrier-grade NAT)
        return f"a non-public address ({ip})"
    return None


def check_url(url: str) -> None:
    """Refuse URLs whose scheme is not http(s) or that have no host."""
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 - parses the host: "http://[::1/" raises here
    except ValueError as exc:
        raise BlockedURLError(url, f"refused: malformed URL ({exc})") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise BlockedURLError(
            url, f"refused: only http and https URLs can be ingested, not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise BlockedURLError(url, "refused: the URL has no host")


def deadline_default() -> float:
    """Seconds one URL download may take in all, from ``ARAG_URL_DEADLINE`` (default 60)."""
    raw = os.environ.get("ARAG_URL_DEADLINE", "").strip()
    try:
        value = float(raw) if raw else DEADLINE_SECONDS
    except ValueError:
        value = DEADLINE_SECONDS
    return value if value > 0 else DEADLINE_SECONDS


class _PastDeadline(httpcore.TimeoutException):
    """The download's overall deadline passed (not a single slow read)."""


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose reads and writes never wait past ``ends_at`` (monotonic)."""

    def __init__(self, stream: httpcore.NetworkStream, ends_at: float):
        self.stream = stream
        self.ends_at = ends_at

    def _left(self, timeout: float | None) -> float:
        left = self.ends_at - time.monotonic()
        if left <= 0:
            raise _PastDeadline("the download's overall deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self.stream.read(max_bytes, self._left(timeout))
        except httpcore.ReadTimeout:
            self._left(None)  # past the deadline: say so, else the read timeout it was
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self._left(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        tls = self.stream.start_tls(ssl_context, server_hostname, self._left(timeout))
        return _DeadlineStream(tls, self.ends_at)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself, checks every address, then connects to a checked one.

    Its streams end by ``ends_at`` (monotonic time): the download's overall deadline.
    """

    def __init__(self, url: str, allow_private: bool, ends_at: float = float("inf")):
        self.url = url
        self.allow_private = allow_private
        self.ends_at = ends_at

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise LoaderError(self.url, f"cannot resolve host {host!r} ({exc.strerror})") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            for address in addresses:
                reason = blocked_reason(address)
                if reason:
                    raise BlockedURLError(
                        self.url,
                        f"refused: {host} resolves to {reason}; set ARAG_ALLOW_PRIVATE_URLS=1 "
                        "to ingest from private networks",
                    )
        left = self.ends_at - time.monotonic()
        if left <= 0:
            raise _PastDeadline("the download's overall deadline passed")
        timeout = left if timeout is None else min(timeout, left)
        stream = super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, self.ends_at)


def _client(
    url: str, allow_private: bool, timeout: float, ends_at: float = float("inf")
) -> httpx.Client:
    transport = httpx.HTTPTransport()
    # httpx has no public hook for the connection step; its pool takes a network backend.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=_GuardedBackend(url, allow_private, ends_at),
    )
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
        event_hooks={"request": [lambda request: check_url(str(request.url))]},
        headers={"User-Agent": "arag-ingest/0.1"},
    )


def load_url(
    url: str,
    *,
    allow_private: bool | None = None,
    timeout: float = TIMEOUT_SECONDS,
    deadline: float | None = None,
) -> list[Document]:
    """Fetch ``url`` and load it like a file of its content type; ``source`` is the URL.

    ``timeout`` bounds each network step; ``deadline`` (default :func:`deadline_default`) the
    whole download, redirects included. Raises :class:`BlockedURLError` for a refused scheme
    or address (redirects included) and :class:`LoaderError` for network errors, HTTP
    errors, a download past its deadline, unsupported content types, bodies over the size
    limit, and whatever the file loader refuses.
    """
    check_url(url)
    allow = allow_private_default() if allow_private is None else allow_private
    limit = max_file_bytes()
    deadline = deadline_default() if deadline is None else deadline
    ends_at = time.monotonic() + deadline
    try:
        with (
            _client(url, allow, timeout, ends_at) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise LoaderError(url, f"HTTP {response.status_code} {response.reason_phrase}")
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            suffix = _SUFFIX_BY_TYPE.get(content_type.lower())
            if suffix is None:
                raise LoaderError(url, f"unsupported content type {content_type or '(none)'!r}")
            body = bytearray()
            for block in response.iter_bytes():
                body += block
                if len(body) > limit:
                    raise LoaderError(
                        url,
                        f"too large to ingest (over {limit / 2**20:.0f} MB): raise "
                        "ARAG_MAX_FILE_MB",
                    )
            final_url = str(response.url)
    except httpx.InvalidURL as exc:  # not an HTTPError: e.g. the octal host "0177.0.0.1"
        raise BlockedURLError(url, f"refused: malformed URL ({exc})") from None
    except httpx.TimeoutException as exc:
        if time.monotonic() >= ends_at or isinstance(exc.__context__, _PastDeadline):
            raise LoaderError(
                url,
                f"download did not finish within {deadline:g} s (the server sends too "
                "slowly); raise ARAG_URL_DEADLINE to wait longer",
            ) from None
        raise LoaderError(url, f"download failed ({exc.__class__.__name__}: {exc})") from exc
    except httpx.TooManyRedirects as exc:
        raise LoaderError(url, f"more than {MAX_REDIRECTS} redirects") from exc
    except httpx.HTTPError as exc:
        raise LoaderError(url, f"download failed ({exc.__class__.__name__}: {exc})") from exc
    with tempfile.TemporaryDirectory(prefix="arag-url-") as tmp:
        path = Path(tmp) / f"page{suffix}"
        path.write_bytes(bytes(body))
        try:
            docs = load_file(path)
        except LoaderError as exc:
            raise LoaderError(url, exc.reason) from exc
    for doc in docs:
        if doc.metadata.get("title") == path.stem:  # no title in the content
            doc.metadata["title"] = urlsplit(final_url).hostname or url
        doc.metadata["source"] = url
        doc.metadata["file_type"] = suffix.lstrip(".")  # by content type, for filters
    return docs
