"""The knowledge book: one static HTML page per rule (when, then, thresholds with units, codes with displays,
sources, reviews, what changed since a previous export) and an index, so a clinician can review a knowledge version
without reading YAML.

Built from the same rule views and code groups as the FHIR package; no script, escaped by Jinja's autoescape.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import jinja2

from service.knowledge.base import Knowledge
from service.knowledge.export.changes import Previous, removed_rules, rule_changes
from service.knowledge.export.package import KnowledgePackage
from service.knowledge.export.rule_views import MODES, RuleView, rule_views
from service.knowledge.export.valuesets import code_groups
from service.knowledge.reviews import Review

BOOK_DIR = "book"
INDEX_PAGE = "index.html"
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("service.knowledge.export", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def page_name(rule_id: str) -> str:
    """The book page of one rule."""
    return f"{rule_id}.html"


def _reviews_of(knowledge: Knowledge, rule_id: str) -> list[Review]:
    return [review for review in knowledge.reviews if review.covers(rule_id)]


def _rule_page(view: RuleView, knowledge: Knowledge, changes: Changes) -> str:
    groups = {group.id: group for group in code_groups(knowledge)}
    return _ENV.get_template("book_rule.html").render(
        previous=changes.version,
        changes=changes.by_rule.get(view.id, ()),
        version=knowledge.version,
        view=view,
        modes=MODES,
        orders=[knowledge.analyte(lab) for lab in view.orders],
        groups=[groups[set_id] for set_id in view.value_sets],
        citations=[knowledge.citations[c] for c in view.rule.citations],
        reviews=_reviews_of(knowledge, view.id),
    )


@dataclass(frozen=True)
class Changes:
    """What changed per rule since a previous version (``version`` None: none was compared)."""

    version: str | None = None
    by_rule: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    removed: tuple[str, ...] = ()


def compare(knowledge: Knowledge, package: KnowledgePackage, previous: Previous) -> Changes:
    """Each rule's changes since ``previous`` (an earlier export), and the rules it had that are gone."""
    views = rule_views(knowledge)
    by_rule = {view.id: rule_changes(view, package, previous) for view in views}
    return Changes(previous.version, by_rule, removed_rules(views, previous))


@functools.cache
def build_book(knowledge: Knowledge) -> Mapping[str, bytes]:
    """The book without a comparison (cached per knowledge: what /knowledge/book/ serves)."""
    return render_book(knowledge, Changes())


def render_book(knowledge: Knowledge, changes: Changes) -> Mapping[str, bytes]:
    """Page name -> HTML bytes: the index, then one page per rule in cards.yaml order."""
    views = rule_views(knowledge)
    index = _ENV.get_template("book_index.html").render(
        previous=changes.version,
        changes=changes,
        version=knowledge.version,
        views=views,
        modes=MODES,
        approved=knowledge.approved(),
        reviews=knowledge.reviews,
        reviews_of=lambda rule_id: _reviews_of(knowledge, rule_id),
    )
    pages = {INDEX_PAGE: index.encode()}
    pages.update({page_name(view.id): _rule_page(view, knowledge, changes).encode() for view in views})
    return MappingProxyType(pages)


def write_book(pages: Mapping[str, bytes], out: Path) -> Path:
    """Write the book under ``out/book/`` (HTML pages of an earlier export there are replaced); its folder."""
    folder = out / BOOK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.html"):
        if stale.name not in pages:
            stale.unlink()
    for name, content in pages.items():
        (folder / name).write_bytes(content)
    return folder
