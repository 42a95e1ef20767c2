"""Who may say where a request came from.

X-Forwarded-For, -Proto and -Host are believed only on requests whose peer is
one of TRUSTED_PROXIES (nginx's own address), and then through exactly
TRUSTED_PROXY_HOPS of them. A client that reaches gunicorn past nginx is taken
at its own address, whatever it forwards: otherwise it could pick a fresh
rate-limit counter per request, or claim a private address to read /metrics.
gunicorn's forwarded_allow_ips (gunicorn.conf.py) reads the same variable.
"""

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ConfigError


def parse_addresses(value):
    """The addresses in a comma-separated list, e.g. "127.0.0.2,::1"."""
    addresses = set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        address = canonical(item)
        if address is None:
            raise ConfigError(f"TRUSTED_PROXIES: {item!r} is not an IP address.")
        addresses.add(address)
    return frozenset(addresses)


def canonical(text):
    """An IP address in one form (IPv4-mapped IPv6 as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


class FromTrustedProxy:
    """WSGI middleware: ProxyFix for requests from a trusted proxy, and
    nothing for anyone else."""

    def __init__(self, wsgi_app, hops, proxies):
        self.direct = wsgi_app
        self.forwarded = ProxyFix(wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
        self.proxies = proxies

    def __call__(self, environ, start_response):
        if canonical(environ.get("REMOTE_ADDR") or "") in self.proxies:
            return self.forwarded(environ, start_response)
        return self.direct(environ, start_response)
