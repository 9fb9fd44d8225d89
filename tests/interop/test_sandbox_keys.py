"""Trusting the Sandbox offline: the inline key decides, an unlisted jku is never fetched (a counting server proves it).

Also checks that docs/security.md's recipe holds the Sandbox's real public key and loads as a trusted-clients file.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from cds_hooks.jwks import parse_jwks
from cds_hooks.trusted_clients import load_trusted_clients
from tests.interop.conftest import ROOT, SANDBOX_ISSUER, SANDBOX_KID, ServedApp, sandbox_json
from tests.loopback import loopback_server

JWKS_PATH = "/.well-known/jwks.json"


def test_unlisted_jku_with_a_known_kid_is_accepted_without_any_fetch(served: ServedApp) -> None:
    with loopback_server() as keys:
        keys.routes[JWKS_PATH] = {"keys": [served.signer.public_jwk()]}
        url = served.url("patient-view")
        token = served.signer.token(served.audience(url), jku=keys.url(JWKS_PATH))
        assert served.post(url, sandbox_json("patient-view.json"), token=token).status_code == 200
        assert keys.total == 0


def test_unlisted_jku_with_an_unknown_kid_is_refused_without_any_fetch(
    served: ServedApp, caplog: pytest.LogCaptureFixture
) -> None:
    with loopback_server() as keys:
        keys.routes[JWKS_PATH] = {"keys": [served.signer.public_jwk(kid="rotated-kid")]}
        url = served.url("patient-view")
        token = served.signer.token(served.audience(url), kid="rotated-kid", jku=keys.url(JWKS_PATH))
        with caplog.at_level(logging.WARNING):
            response = served.post(url, sandbox_json("patient-view.json"), token=token)
        assert response.status_code == 401
        assert keys.total == 0
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "unknown kid 'rotated-kid'" in messages and "not on the allow-list" in messages
    assert "not fetched" in messages
    assert token not in messages and token.split(".")[1] not in messages  # the log never quotes the token


def test_the_sandboxs_own_jku_is_never_fetched(served: ServedApp) -> None:
    # The served fixture's network guard fails the test if https://sandbox.cds-hooks.org is looked up or called.
    url = served.url("order-select")
    assert served.post(url, sandbox_json("order-select.json")).status_code == 200
    url = served.url("patient-view")
    refused = served.post(
        url, sandbox_json("patient-view.json"), token=served.signer.token(served.audience(url), kid="other")
    )
    assert refused.status_code == 401


def _recipe(path: Path) -> dict[str, object]:
    """The trusted-clients JSON block of docs/security.md's offline Sandbox recipe."""
    text = path.read_text(encoding="utf-8")
    section = text[text.index("<!-- sandbox-offline-recipe -->") :]
    match = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert match, "docs/security.md has no JSON block after the recipe marker"
    document: dict[str, object] = json.loads(match.group(1))
    return document


def test_the_documented_recipe_trusts_the_sandboxs_published_key(tmp_path: Path) -> None:
    recipe = _recipe(ROOT / "docs" / "security.md")
    clients_file = tmp_path / "clients.json"
    clients_file.write_text(json.dumps(recipe), encoding="utf-8")
    (client,) = load_trusted_clients(clients_file)
    assert client.iss == SANDBOX_ISSUER and client.jku == () and client.jwks is not None
    published = parse_jwks(sandbox_json("sandbox-public-jwks.json"))
    assert set(client.jwks) == {SANDBOX_KID} == set(published)
    assert client.jwks[SANDBOX_KID].key.public_numbers() == published[SANDBOX_KID].key.public_numbers()
