"""reviews.yaml as records: who reviewed which knowledge version, and which rules (a clinical sign-off record)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

from pydantic import Field

from service.knowledge.checks import KnowledgeError, check_refs
from service.knowledge.models import Codes, NonBlank, Record

ALL_RULES = "all"


class Review(Record):
    """One sign-off: a reviewer, the knowledge version read, the rules covered (``all`` or rule ids), the outcome."""

    version: NonBlank
    reviewer: NonBlank
    role: NonBlank
    date: dt.date
    outcome: Annotated[str, Field(pattern=r"^(approved|changes requested)$")]
    rules: Annotated[Codes, Field(min_length=1)] = (ALL_RULES,)
    note: str | None = None

    def covers(self, rule_id: str) -> bool:
        """Whether this review read ``rule_id``."""
        return ALL_RULES in self.rules or rule_id in self.rules


class ReviewsFile(Record):
    """reviews.yaml."""

    reviews: tuple[Review, ...] = ()


def _release(version: str, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise KnowledgeError(f"{where}: version {version!r} is not dotted numbers like 2026.11.0") from None


def check_reviews(reviews: Iterable[Review], rule_ids: set[str], version: str) -> None:
    """Each review is of this knowledge version (its rules known) or an earlier one (kept as history), never a later."""
    current = _release(version, "citations.yaml")
    for review in reviews:
        where = f"reviews.yaml {review.reviewer} {review.version}"
        if _release(review.version, where) > current:
            raise KnowledgeError(f"{where}: version {review.version!r} is later than the knowledge version {version}")
        if review.version == version:
            check_refs(where, "rule", (r for r in review.rules if r != ALL_RULES), dict.fromkeys(rule_ids))
        if ALL_RULES in review.rules and len(review.rules) > 1:
            raise KnowledgeError(f"{where}: rules is either [all] or a list of rule ids")
