"""The knowledge base loads, is immutable and cached, and every kind of bad file is refused at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from service.knowledge import KNOWLEDGE_DIR, Knowledge, KnowledgeError, load_knowledge, load_knowledge_from
from service.knowledge.loader import PREGNANCY_CALCIUM_SOURCES, PREGNANCY_TSH_SOURCES


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_packaged_knowledge_loads(knowledge: Knowledge) -> None:
    assert knowledge.version
    assert load_knowledge() is knowledge


def test_lab_loinc_codes_are_every_lab_code_sorted(knowledge: Knowledge) -> None:
    every = {code for analyte in knowledge.analytes.values() for code in analyte.loinc}
    panels = set(yaml.safe_load((KNOWLEDGE_DIR / "labs.yaml").read_text(encoding="utf-8"))["panels"]["loinc"])
    assert knowledge.lab_loinc_codes == tuple(sorted(every | panels))  # panels: their components are read
    assert {"17861-6", "2000-8", "49765-1", "19123-9", "2601-3", "14334-7", "49230-6"} <= every


def test_knowledge_is_read_only(knowledge: Knowledge) -> None:
    with pytest.raises(AttributeError):
        knowledge.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        knowledge.analytes["x"] = knowledge.analytes["magnesium"]  # type: ignore[index]


def test_copy_of_packaged_files_loads(knowledge_copy: Path) -> None:
    assert load_knowledge_from(knowledge_copy).version == load_knowledge().version


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("labs.yaml", "    lookback_days: 30\n", "    lookback_days: 30\n    typo_key: 1\n", "typo_key"),
        ("cards.yaml", "citations: [koulouri-thyroid-2013]", "citations: [no-such-source]", "no-such-source"),
        ("cards.yaml", "    labs: [free_t4]", "    labs: [free_t5]", "free_t5"),
        ("cards.yaml", 'summary: "Magnesium low ({value}', 'summary: "Magnesium low ({valeu}', "valeu"),
        (
            "medications.yaml",
            "labs: [magnesium, b12]\n    min_duration_days",
            "labs: [magnesiun, b12]\n    min_duration_days",
            "magnesiun",
        ),
        ("conditions.yaml", "citations: [snomed-ips]\n", "citations: [snomed-ipz]\n", "snomed-ipz"),
        ("labs.yaml", "loinc: [19123-9, 2601-3", "loinc: [17861-6, 2601-3", "17861-6"),
        ("labs.yaml", "workup: core", "workup: sometimes", "workup"),
        ("citations.yaml", "accessed: 2026-11-21", "accessed: yesterday", "accessed"),
        ("cards.yaml", "  footer:", "  footerx:", "phrases"),
        ("labs.yaml", "canonical_unit: mg/dL", "canonical_unit: mg per dL", "not UCUM"),
        ("labs.yaml", "  mEq/L: meq/L", "  mEq/L: mEq/L", "non-UCUM"),
        ("labs.yaml", "alternative_to: cholinesterase_rbc", "alternative_to: cholinesterase_rbx", "alternative_to"),
        ("conditions.yaml", "always: [als-mnd, immobilisation,", "always: [als-mnd, immobilization,", "denervation"),
        ("cards.yaml", "  high/high:", "  high/hihg:", "thyroid_patterns"),
        ("labs.yaml", "    answered_by: calcium_ionised", "    answered_by: calcium_ionisd", "calcium_ionisd"),
        ("labs.yaml", "    answers_also: [albumin]", "    answers_also: [albumen]", "albumen"),
        ("labs.yaml", "    order_as: calcium_total", "    order_as: albumin", "families calcium"),
        ("cards.yaml", "within {hours} h", "within {hourz} h", "uncorrected_note"),
        ("cards.yaml", '  drug_active: "active"\n', "", "phrases"),
        ("medications.yaml", "    kind: lithium", "    kind: lithum", "kind"),
        (
            "labs.yaml",
            'reference less than 1:10)"\n    flag: []',
            'reference less than 1:10)"\n    flag: [low]',
            "qualitative",
        ),
    ],
)
def test_bad_file_is_refused(knowledge_copy: Path, name: str, old: str, new: str, message: str) -> None:
    _edit(knowledge_copy, name, old, new)
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge_from(knowledge_copy)


def test_rule_without_card_text_is_refused(knowledge_copy: Path) -> None:
    path = knowledge_copy / "cards.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    del document["rules"]["drug.stimulant"]
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="drug.stimulant"):
        load_knowledge_from(knowledge_copy)


def test_unreadable_yaml_is_refused(knowledge_copy: Path) -> None:
    (knowledge_copy / "conditions.yaml").write_text("sets: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="conditions.yaml"):
        load_knowledge_from(knowledge_copy)


def test_missing_file_is_refused(knowledge_copy: Path) -> None:
    (knowledge_copy / "medications.yaml").unlink()
    with pytest.raises(KnowledgeError, match="medications.yaml"):
        load_knowledge_from(knowledge_copy)


def test_every_citation_is_used(knowledge: Knowledge) -> None:
    used = set(knowledge.albumin_correction.citations) | set(knowledge.unit_citations)
    used |= set(knowledge.denervation.citations)
    used |= {c for a in knowledge.analytes.values() for c in a.citations}
    used |= {c for g in knowledge.drug_groups for c in g.citations}
    used |= {c for s in knowledge.condition_sets for c in s.citations}
    used |= {c for r in knowledge.cards.rules.values() for c in r.citations}
    used |= {c for t in knowledge.orders.triggers for c in t.citations}
    # issue 15: signs from Observations, nicotinic toxicity, timing, and the pregnancy readings of TSH and calcium
    assert knowledge.observed_signs and knowledge.nicotinic_toxicity and knowledge.onset_lead
    used |= {*knowledge.observed_signs.citations, *knowledge.nicotinic_toxicity.citations}
    used |= {c for s in knowledge.steady_state for c in s.citations} | set(knowledge.onset_lead.citations)
    used |= {*PREGNANCY_TSH_SOURCES, *PREGNANCY_CALCIUM_SOURCES} | set(knowledge.product_sources)
    used |= set(knowledge.reading_citations)  # issue 25: panels, Condition status and abatement
    assert set(knowledge.citations) == used
