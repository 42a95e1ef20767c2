"""X-Forwarded-For is believed from the configured proxy only.

nginx here is 10.0.9.2 (TRUSTED_PROXIES) in front of the app (one hop). What
the app believes shows in /metrics, which answers private addresses only.
"""

import pytest

from docdraft import create_app
from docdraft.config import ConfigError

BEHIND_NGINX = pytest.mark.app_config(TRUSTED_PROXY_HOPS=1, TRUSTED_PROXIES="10.0.9.2")


def metrics_status(client, peer, forwarded_for):
    return client.get(
        "/metrics",
        environ_base={"REMOTE_ADDR": peer},
        headers={"X-Forwarded-For": forwarded_for},
    ).status_code


@BEHIND_NGINX
def test_a_forged_private_address_from_elsewhere_opens_nothing(client):
    """The attack: straight to gunicorn from outside, claiming 10.1.2.3."""
    assert metrics_status(client, "93.184.216.34", "10.1.2.3") == 404


@BEHIND_NGINX
def test_a_direct_caller_is_taken_at_its_own_address(client):
    """A private peer that forges a public address is still the private peer."""
    assert metrics_status(client, "10.0.9.7", "93.184.216.34") == 200


@BEHIND_NGINX
def test_the_proxy_is_believed(client):
    """nginx says the client is public: the app believes it (and for an
    IPv4-mapped IPv6 form of nginx's address, too)."""
    assert metrics_status(client, "10.0.9.2", "93.184.216.34") == 404
    assert metrics_status(client, "::ffff:10.0.9.2", "93.184.216.34") == 404
    assert metrics_status(client, "10.0.9.2", "10.1.2.3") == 200


def test_a_proxy_that_is_not_an_address_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        create_app({"TRUSTED_PROXY_HOPS": 1, "TRUSTED_PROXIES": "nginx"})
