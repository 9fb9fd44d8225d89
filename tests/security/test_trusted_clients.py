"""The trusted-clients file is validated strictly, and the service wiring refuses to run loose."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.auth import JwtAuthenticator, MemoryReplayCache
from cds_hooks.trusted_clients import TrustedClientsError, load_trusted_clients
from service.config import DEVELOPMENT_FHIR_ALLOWLIST, Settings, load_settings
from service.security import AUTH_OFF_WARNING, build_authenticator, serve_refusal
from tests.security.conftest import SigningKey


def write(tmp_path: Path, document: Any) -> Path:
    """Write ``document`` as JSON to a trusted-clients file."""
    path = tmp_path / "trusted-clients.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_good_file_loads(tmp_path: Path, es384: SigningKey) -> None:
    path = write(
        tmp_path,
        {
            "clients": [
                {
                    "iss": "https://sandbox.cds-hooks.org",
                    "jwks_url": "https://sandbox.cds-hooks.org/.well-known/jwks.json",
                },
                {"iss": "https://ehr.example.org", "jwks": {"keys": [es384.jwk]}, "jku": ["https://ehr.example.org/k"]},
                {"iss": "http://dev-ehr", "jwks_url": "http://127.0.0.1:9999/jwks.json"},
            ]
        },
    )
    sandbox, ehr, dev = load_trusted_clients(path)
    assert sandbox.jwks_url == "https://sandbox.cds-hooks.org/.well-known/jwks.json"
    assert ehr.jwks is not None and set(ehr.jwks) == {"es384-key"}
    assert ehr.jku == ("https://ehr.example.org/k",)
    assert dev.jwks_url == "http://127.0.0.1:9999/jwks.json"


BAD_FILES = {
    "not json": "{clients: nope",
    "no clients": {"clients": []},
    "unknown top-level key": {"clients": [{"iss": "a", "jwks_url": "https://a/k"}], "extra": 1},
    "unknown client key": {"clients": [{"iss": "a", "jwks_url": "https://a/k", "secret": "x"}]},
    "no key source": {"clients": [{"iss": "a"}]},
    "both key sources": {"clients": [{"iss": "a", "jwks_url": "https://a/k", "jwks": {"keys": [{}]}}]},
    "plain http off loopback": {"clients": [{"iss": "a", "jwks_url": "http://ehr.example.org/k"}]},
    "http jku off loopback": {"clients": [{"iss": "a", "jwks_url": "https://a/k", "jku": ["http://a/k"]}]},
    "symmetric key only": {"clients": [{"iss": "a", "jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}}]},
    "empty iss": {"clients": [{"iss": "", "jwks_url": "https://a/k"}]},
    "duplicate iss": {"clients": [{"iss": "a", "jwks_url": "https://a/k"}, {"iss": "a", "jwks_url": "https://b/k"}]},
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_fails_clearly(tmp_path: Path, name: str) -> None:
    with pytest.raises(TrustedClientsError, match="trusted clients file"):
        load_trusted_clients(write(tmp_path, BAD_FILES[name]))


def test_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(TrustedClientsError, match="cannot read"):
        load_trusted_clients(tmp_path / "absent.json")


def test_no_trusted_clients_means_auth_off_with_a_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert build_authenticator(Settings(), MemoryReplayCache()) is None
    assert AUTH_OFF_WARNING in caplog.text


def test_trusted_clients_switch_auth_on(tmp_path: Path, es384: SigningKey) -> None:
    path = write(tmp_path, {"clients": [{"iss": "https://ehr.example.org", "jwks": {"keys": [es384.jwk]}}]})
    authenticator = build_authenticator(Settings(trusted_clients_file=str(path)), MemoryReplayCache())
    assert isinstance(authenticator, JwtAuthenticator)


def test_build_authenticator_refuses_a_bad_file(tmp_path: Path) -> None:
    path = write(tmp_path, {"clients": [{"iss": "a"}]})
    with pytest.raises(TrustedClientsError):
        build_authenticator(Settings(trusted_clients_file=str(path)), MemoryReplayCache())


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.1.2.3"])
def test_loopback_may_serve_without_auth(host: str) -> None:
    assert serve_refusal(host, Settings(), allow_unauthenticated=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "cds.example.org", "127.0.0.1.evil.com"])
def test_public_bind_without_auth_is_refused(host: str) -> None:
    reason = serve_refusal(host, Settings(), allow_unauthenticated=False)
    assert reason is not None and "--allow-unauthenticated" in reason
    assert serve_refusal(host, Settings(), allow_unauthenticated=True) is None


def test_public_bind_with_auth_is_fine_but_not_with_a_bad_file(tmp_path: Path, es384: SigningKey) -> None:
    good = write(tmp_path, {"clients": [{"iss": "https://ehr.example.org", "jwks": {"keys": [es384.jwk]}}]})
    public = "https://cds.example.org"
    assert serve_refusal("0.0.0.0", Settings(trusted_clients_file=str(good), public_url=public), False) is None
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    reason = serve_refusal("0.0.0.0", Settings(trusted_clients_file=str(bad)), True)
    assert reason is not None and "not valid" in reason


def test_serve_with_auth_but_no_public_url_exits_2_in_one_line(
    tmp_path: Path, es384: SigningKey, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.server import run_gunicorn

    good = write(tmp_path, {"clients": [{"iss": "https://ehr.example.org", "jwks": {"keys": [es384.jwk]}}]})
    monkeypatch.setenv("CDS_TRUSTED_CLIENTS", str(good))
    for name in ("CDS_PUBLIC_URL", "CDS_ACCEPTED_AUDIENCES"):
        monkeypatch.delenv(name, raising=False)
    assert run_gunicorn(host="127.0.0.1", port=1, workers=1) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "set CDS_PUBLIC_URL" in err
    accepted = Settings(trusted_clients_file=str(good), accepted_audiences="https://a.example.org")
    assert serve_refusal("127.0.0.1", accepted, False) is None


def test_run_gunicorn_exits_2_on_a_public_bind_without_auth(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.server import run_gunicorn

    monkeypatch.delenv("CDS_TRUSTED_CLIENTS", raising=False)
    monkeypatch.delenv("CDS_TRUSTED_CLIENTS_FILE", raising=False)
    assert run_gunicorn(host="0.0.0.0", port=1, workers=1) == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in capsys.readouterr().err


def test_cli_serve_exits_2_on_a_public_bind_without_auth(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = pytest.importorskip("service.cli", exc_type=ImportError)
    monkeypatch.delenv("CDS_TRUSTED_CLIENTS", raising=False)
    monkeypatch.delenv("CDS_TRUSTED_CLIENTS_FILE", raising=False)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "--allow-unauthenticated" in capsys.readouterr().err


def test_the_documented_variable_turns_auth_on() -> None:
    # README and Dockerfile say CDS_TRUSTED_CLIENTS; setting it must not leave authentication silently off.
    assert load_settings({"CDS_TRUSTED_CLIENTS": "/etc/cds/clients.json"}).auth_enabled
    assert load_settings({"CDS_TRUSTED_CLIENTS_FILE": "/etc/cds/clients.json"}).auth_enabled
    assert not load_settings({}).auth_enabled


def test_fhir_allowlist_defaults() -> None:
    assert Settings().effective_fhir_allowlist == DEVELOPMENT_FHIR_ALLOWLIST
    assert Settings(trusted_clients_file="clients.json").effective_fhir_allowlist == ""
    both = Settings(trusted_clients_file="clients.json", fhir_server_allowlist="https://fhir.example.org/r4")
    assert both.effective_fhir_allowlist == "https://fhir.example.org/r4"
