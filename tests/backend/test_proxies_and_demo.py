"""Addresses behind proxies (TRUSTED_PROXY_COUNT) and the demo's built-in secrets (issue 10)."""
import pytest

from backend.config import load_config
from backend.serve import check_demo_binding, is_loopback
from tests.conftest import test_config


def _address_seen(app) -> str:
    from flask import request

    client = app.test_client()
    seen = {}

    @app.get("/__address_probe")
    def probe():
        seen["address"] = request.remote_addr
        return ""

    client.get("/__address_probe", headers={"X-Forwarded-For": "203.0.113.50"},
               environ_base={"REMOTE_ADDR": "10.0.0.2"})
    return seen["address"]


@pytest.mark.parametrize(("count", "expected"), [(0, "10.0.0.2"), (1, "203.0.113.50")],
                         ids=["no trusted proxy: X-Forwarded-For ignored", "one trusted proxy: honoured"])
def test_x_forwarded_for_is_honoured_only_from_configured_proxies(count, expected):
    from backend import create_app

    app = create_app({**test_config(), "TRUSTED_PROXY_COUNT": count})
    assert _address_seen(app) == expected


def test_the_demo_knows_it_runs_on_built_in_secrets():
    assert load_config(environ={"CADENCE_DEMO": "1"})["CADENCE_BUILTIN_SECRETS"] == ("SECRET_KEY", "JWT_SECRET_KEY")
    real = load_config(environ={"CADENCE_DEMO": "1", "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40})
    assert real["CADENCE_BUILTIN_SECRETS"] == ()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_the_demo_with_built_in_secrets_refuses_to_listen_beyond_loopback(host, capsys):
    config = load_config(environ={"CADENCE_DEMO": "1"})
    with pytest.raises(SystemExit, match="Refusing to serve"):
        check_demo_binding(config, host)
    assert "BUILT-IN SECRETS" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_the_demo_listens_on_loopback_and_says_loudly_what_it_is(host, capsys):
    check_demo_binding(load_config(environ={"CADENCE_DEMO": "1"}), host)
    assert "DEMO MODE" in capsys.readouterr().err
    assert is_loopback(host)


def test_with_real_secrets_any_address_is_allowed_quietly(capsys):
    config = load_config(environ={"SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40})
    check_demo_binding(config, "0.0.0.0")
    assert capsys.readouterr().err == ""
