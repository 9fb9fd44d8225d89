"""``fasciculation-cds feedback report``: per rule, how often its cards were accepted or overridden, and why.

Every feedback item is an event, and every event counts: a card is *accepted* when at least one of its events
accepted a suggestion and *overridden* when at least one overrode it - so a card whose suggestion was taken and
that was dismissed afterwards (the CDS Hooks Sandbox keeps such a card on screen) counts in both, and in
``acceptedAndOverridden``. ``acceptanceRate`` is accepted cards / cards shown. Override reasons count cards per
reason (a reason repeated on one card counts once); displays are those the card offered. Cards with no event
are ``noFeedback`` (CDS clients never report ignored cards). ``--since`` keeps cards issued at or after that
instant (a bare date is midnight UTC). Feedback naming cards we never issued is left out of the rules and
counted on its own (received since ``--since``).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import orjson

from service.config import load_settings

if TYPE_CHECKING:
    from service.store import FeedbackOnCard, OfferedReason, Store

TOP_REASONS = 5
NO_RULE = "(no rule id)"
NO_FIGURE = "\u2014"  # an em dash: no rate to show


@dataclass(frozen=True)
class ReasonCount:
    """One override reason and how many cards were overridden with it."""

    code: str
    system: str | None
    display: str | None
    count: int


@dataclass(frozen=True)
class RuleReport:
    """The figures for one rule."""

    rule_id: str | None
    knowledge_versions: tuple[str, ...]
    shown: int
    accepted: int
    overridden: int
    accepted_and_overridden: int
    comments: int
    override_reasons: tuple[ReasonCount, ...]

    @property
    def no_feedback(self) -> int:
        """Cards shown that nobody reported on."""
        return max(0, self.shown - self.accepted - self.overridden + self.accepted_and_overridden)

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted / shown (None when nothing was shown)."""
        return self.accepted / self.shown if self.shown else None


@dataclass(frozen=True)
class FeedbackReport:
    """The whole report."""

    since: datetime | None
    rules: tuple[RuleReport, ...]
    unknown_card_feedback: int


def parse_since(text: str) -> datetime:
    """``--since``: an ISO date (midnight UTC) or an ISO datetime (UTC when no offset is given)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _display(item: FeedbackOnCard) -> str | None:
    offered: dict[tuple[str, str], OfferedReason] = {(r.code, r.system): r for r in item.offered_reasons}
    by_code = {r.code: r for r in item.offered_reasons}
    match = offered.get((item.override_code or "", item.override_system or "")) or by_code.get(item.override_code or "")
    return match.display if match else None


def _rule_report(
    rule_id: str | None, versions: set[str], shown: int, events_by_card: dict[str, list[FeedbackOnCard]]
) -> RuleReport:
    reasons: Counter[tuple[str, str | None, str | None]] = Counter()
    accepted = overridden = both = comments = 0
    for events in events_by_card.values():
        outcomes = {event.outcome for event in events}
        accepted += "accepted" in outcomes
        overridden += "overridden" in outcomes
        both += {"accepted", "overridden"} <= outcomes
        comments += any(event.has_comment for event in events)
        card_reasons = {
            (event.override_code, event.override_system, _display(event))
            for event in events
            if event.outcome == "overridden" and event.override_code
        }
        reasons.update((code, system, display) for code, system, display in card_reasons if code)
    ranked = sorted(reasons.items(), key=lambda pair: (-pair[1], pair[0][0]))[:TOP_REASONS]
    return RuleReport(
        rule_id=rule_id,
        knowledge_versions=tuple(sorted(versions)),
        shown=shown,
        accepted=accepted,
        overridden=overridden,
        accepted_and_overridden=both,
        comments=comments,
        override_reasons=tuple(ReasonCount(code, system, display, n) for (code, system, display), n in ranked),
    )


def build_report(store: Store, since: datetime | None = None) -> FeedbackReport:
    """Read the store and compute the report."""
    shown: Counter[str | None] = Counter()
    versions: defaultdict[str | None, set[str]] = defaultdict(set)
    for count in store.shown_by_rule(since):
        shown[count.rule_id] += count.count
        if count.knowledge_version:
            versions[count.rule_id].add(count.knowledge_version)
    per_rule: defaultdict[str | None, dict[str, list[FeedbackOnCard]]] = defaultdict(dict)
    for item in store.feedback_on_issued(since):  # every event, each card's in outcome-time order
        per_rule[item.rule_id].setdefault(item.card_uuid, []).append(item)
    rules = [_rule_report(rule, versions[rule], shown[rule], per_rule[rule]) for rule in shown]
    rules.sort(key=lambda r: (-r.shown, r.rule_id or ""))
    return FeedbackReport(since, tuple(rules), store.unknown_card_feedback(since))


def report_json(report: FeedbackReport) -> dict[str, Any]:
    """The report as JSON (``--json``)."""
    return {
        "since": report.since.isoformat() if report.since else None,
        "rules": [
            {
                "ruleId": rule.rule_id,
                "knowledgeVersions": list(rule.knowledge_versions),
                "shown": rule.shown,
                "accepted": rule.accepted,
                "overridden": rule.overridden,
                "acceptedAndOverridden": rule.accepted_and_overridden,
                "noFeedback": rule.no_feedback,
                "acceptanceRate": rule.acceptance_rate,
                "comments": rule.comments,
                "topOverrideReasons": [vars(reason) for reason in rule.override_reasons],
            }
            for rule in report.rules
        ],
        "unknownCardFeedback": report.unknown_card_feedback,
    }


def report_text(report: FeedbackReport) -> str:
    """The report as a table for people."""
    scope = f"cards issued since {report.since.isoformat()}" if report.since else "all cards"
    lines = [f"Feedback report ({scope})"]
    header = ("rule", "shown", "accepted", "overridden", "both", "none", "rate", "comments")
    lines.append("{:<40} {:>6} {:>8} {:>10} {:>5} {:>6} {:>7} {:>8}".format(*header))
    for rule in report.rules:
        # No feedback at all on a rule's cards is not a 0 % acceptance (CDS clients never report ignored cards).
        rate = (
            NO_FIGURE
            if rule.acceptance_rate is None or rule.no_feedback == rule.shown
            else f"{rule.acceptance_rate:.1%}"
        )
        lines.append(
            f"{rule.rule_id or NO_RULE:<40} {rule.shown:>6} {rule.accepted:>8} {rule.overridden:>10} "
            f"{rule.accepted_and_overridden:>5} {rule.no_feedback:>6} {rate:>7} {rule.comments:>8}"
        )
        if rule.knowledge_versions:
            lines.append(f"    knowledge version: {', '.join(rule.knowledge_versions)}")
        for reason in rule.override_reasons:
            lines.append(f"    override {reason.code} ({reason.display or 'no display'}): {reason.count}")
    lines.append("(a card accepted and later overridden counts in both columns and in 'both')")
    if not report.rules:
        lines.append("(no cards issued)")
    lines.append(f"Feedback on cards we never issued: {report.unknown_card_feedback}")
    return "\n".join(lines) + "\n"


def run_report(args: argparse.Namespace) -> int:
    """CLI entry: open the store named by ``CDS_DATABASE_URL`` and print the report."""
    from service.store import open_store  # SQLAlchemy only when reporting, not when the CLI starts

    store = open_store(load_settings())
    try:
        report = build_report(store, args.since)
    finally:
        store.close()
    if args.json:
        sys.stdout.write(orjson.dumps(report_json(report), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(report_text(report))
    return 0
