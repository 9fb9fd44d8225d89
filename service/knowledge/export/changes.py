"""What changed since a previous knowledge version, per rule: read from an earlier export's package and compared
with the current one (card wording, when and thresholds, sources, orders, hooks, and the codes of its value sets)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.knowledge.export.package import MANIFEST, PACKAGE_DIR, KnowledgePackage
from service.knowledge.export.plans import plan_file
from service.knowledge.export.rule_views import PATIENT_VIEW, RuleView

Resource = dict[str, Any]
# (what a reviewer calls it, how to read it from a PlanDefinition's action)
ACTION_PARTS = (
    ("card summary", lambda a: a.get("title")),
    ("why", lambda a: a.get("description")),
    ("next step", lambda a: a.get("textEquivalent")),
    ("when and thresholds", lambda a: [c["expression"].get("expression") for c in a.get("condition", [])]),
    ("sources", lambda a: [d.get("label") for d in a.get("documentation", [])]),
    ("orders", lambda a: [s.get("definitionCanonical") for s in a.get("action", [])]),
)


class PreviousError(ValueError):
    """The previous export cannot be read."""


@dataclass(frozen=True)
class Previous:
    """An earlier export: its version and its resources by file name."""

    version: str
    resources: Mapping[str, Resource]


def read_previous(folder: Path) -> Previous:
    """The package of an earlier ``knowledge export --out folder``; PreviousError when it is missing or malformed."""
    package = folder / PACKAGE_DIR
    try:
        version = str(json.loads((package / MANIFEST).read_text(encoding="utf-8"))["version"])
        resources = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(package.glob("*-*.json"))}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PreviousError(f"{package}: not a knowledge export ({exc})") from exc
    return Previous(version, resources)


def _codes(value_set: Resource | None) -> set[str]:
    """'system|code' and 'system is-a value' entries of a ValueSet's compose."""
    entries: set[str] = set()
    for include in (value_set or {}).get("compose", {}).get("include", []):
        system = include.get("system", "")
        entries |= {f"{system}|{c.get('code')}" for c in include.get("concept", [])}
        entries |= {f"{system} is-a {f.get('value')}" for f in include.get("filter", [])}
    return entries


def _shown(value: Any) -> str:
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


def _listed(items: Iterable[str], limit: int = 8) -> str:
    items = sorted(items)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _code_changes(view: RuleView, now: Mapping[str, Resource], before: Mapping[str, Resource]) -> list[str]:
    lines = []
    for set_id in view.value_sets:
        name = f"ValueSet-{set_id}.json"
        added, removed = (
            _codes(now.get(name)) - _codes(before.get(name)),
            _codes(before.get(name)) - _codes(now.get(name)),
        )
        if added:
            lines.append(f"codes added to {set_id}: {_listed(added)}")
        if removed:
            lines.append(f"codes removed from {set_id}: {_listed(removed)}")
    return lines


def rule_changes(view: RuleView, package: KnowledgePackage, previous: Previous) -> tuple[str, ...]:
    """What changed in one rule since ``previous`` (empty: unchanged); a rule the previous version lacked is new."""
    now, before = package.resources, previous.resources
    name = plan_file(view.id, PATIENT_VIEW)
    if name not in before:
        return ("new rule",)
    old, new = before[name]["action"][0], now[name]["action"][0]
    lines = [f"{label} changed; was: {_shown(read(old))}" for label, read in ACTION_PARTS if read(old) != read(new)]
    hooks_then = {h for h in ("patient-view", "order-select", "order-sign") if plan_file(view.id, h) in before}
    if hooks_then != set(view.hooks):
        lines.append(f"hooks: {', '.join(sorted(hooks_then))} -> {', '.join(view.hooks)}")
    return tuple(lines + _code_changes(view, now, before))


def removed_rules(views: Iterable[RuleView], previous: Previous) -> tuple[str, ...]:
    """Rules the previous version had and this one has not (read from its patient-view PlanDefinitions)."""
    current = {plan_file(view.id, PATIENT_VIEW) for view in views}
    suffix = f"-{PATIENT_VIEW}.json"
    gone = [
        n for n in previous.resources if n.startswith("PlanDefinition-") and n.endswith(suffix) and n not in current
    ]
    return tuple(n.removeprefix("PlanDefinition-").removesuffix(suffix) for n in sorted(gone))
