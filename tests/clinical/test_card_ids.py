"""Card and suggestion uuids: the fast version-5 computation is RFC 4122's uuid5 (issue 16)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from service.cards import UUID_NAMESPACE, stable_uuid


@given(st.text(), st.text(), st.text())
def test_stable_uuid_is_uuid5_of_the_joined_name(hook_instance: str, rule_id: str, label: str) -> None:
    expected = uuid.uuid5(UUID_NAMESPACE, f"{hook_instance}|{rule_id}|{label}")
    assert stable_uuid(hook_instance, rule_id, label) == str(expected)
