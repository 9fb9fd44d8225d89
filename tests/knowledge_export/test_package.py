"""The knowledge export: a FHIR NPM package generated from the loaded knowledge, deterministic, valid for
fhir.resources R4B, and holding exactly the loaded code sets, rules, override reasons and citations."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from service.cli import main
from service.hooks import SERVICE_IDS
from service.knowledge import KNOWLEDGE_DIR, Knowledge, KnowledgeError, load_knowledge, load_knowledge_from
from service.knowledge.export import canon
from service.knowledge.export.package import INDEX, MANIFEST, KnowledgePackage, build_package
from service.knowledge.export.web import service_package

Resource = dict[str, Any]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="module")
def package(knowledge: Knowledge) -> KnowledgePackage:
    return service_package(knowledge)


def _of_type(package: KnowledgePackage, resource_type: str) -> dict[str, Resource]:
    return {r["id"]: r for r in package.resources.values() if r["resourceType"] == resource_type}


def _codes(value_set: Resource, system: str) -> tuple[set[str], set[str]]:
    """(listed codes, is-a filter values) of one system in a ValueSet's compose."""
    listed: set[str] = set()
    prefixes: set[str] = set()
    for include in value_set["compose"]["include"]:
        if include["system"] == system:
            listed |= {c["code"] for c in include.get("concept", [])}
            prefixes |= {f["value"] for f in include.get("filter", []) if f["op"] == "is-a"}
    return listed, prefixes


def test_same_knowledge_same_bytes() -> None:
    """Two knowledge bases loaded separately from the same files give byte-identical packages."""
    ids = tuple(SERVICE_IDS.items())
    first = build_package(load_knowledge_from(KNOWLEDGE_DIR), ids)
    second = build_package(load_knowledge_from(KNOWLEDGE_DIR), ids)
    assert first is not second
    assert dict(first.files) == dict(second.files)


def test_cli_writes_an_npm_package_twice_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`knowledge export --out DIR` writes DIR/package/ with package.json, .index.json and one file per resource;
    a second export over it gives the same bytes and removes a file that is no longer part of the package."""
    assert main(["knowledge", "export", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "package"
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / "ValueSet-gone.json").write_text("{}")
    assert main(["knowledge", "export", "--out", str(tmp_path)]) == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first
    manifest = json.loads(first[MANIFEST])
    assert manifest["fhirVersions"] == ["4.0.1"] and manifest["version"] == load_knowledge().version
    assert manifest["dependencies"] == {"hl7.fhir.r4.core": "4.0.1"}
    index = json.loads(first[INDEX])
    assert {entry["filename"] for entry in index["files"]} == set(first) - {MANIFEST, INDEX}
    for entry in index["files"]:
        resource = json.loads(first[entry["filename"]])
        assert (entry["resourceType"], entry["id"], entry["url"]) == (
            resource["resourceType"],
            resource["id"],
            resource["url"],
        )
    assert f"{len(index['files'])} resources in {folder}" in capsys.readouterr().out


def test_cli_refuses_a_file_as_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out naming a file is refused with a message, not a stack trace."""
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["knowledge", "export", "--out", str(target)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_code_system_release_must_cite_a_known_source(tmp_path: Path) -> None:
    """citations.yaml code_systems naming an unknown citation stops the knowledge from loading."""
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__", "export", "sources"))
    text = (folder / "citations.yaml").read_text(encoding="utf-8")
    (folder / "citations.yaml").write_text(text.replace("citation: who-atc}", "citation: who-atc-1999}"), "utf-8")
    with pytest.raises(KnowledgeError, match="code_systems: unknown citation 'who-atc-1999'"):
        load_knowledge_from(folder)


def test_every_resource_validates_with_fhir_resources_r4b(package: KnowledgePackage) -> None:
    """Each resource loads into its fhir.resources R4B model (unknown elements, wrong types and cardinality fail)."""
    for name, resource in package.resources.items():
        model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert model.id == resource["id"], name


def test_ids_names_and_canonicals_follow_fhir(package: KnowledgePackage, knowledge: Knowledge) -> None:
    """Ids fit FHIR's id type, names inv-0, urls sit under the canonical base with the knowledge version."""
    base = canon.canonical_base(knowledge)
    for name, resource in package.resources.items():
        assert len(resource["id"]) <= 64 and all(c.isalnum() or c in "-." for c in resource["id"]), name
        assert resource["name"][0].isupper() and resource["name"].replace("_", "").isalnum(), name
        assert resource["url"].startswith(base) and resource["version"] == knowledge.version, name
        assert name == f"{resource['resourceType']}-{resource['id']}.json"
        assert resource["status"] in {"draft", "active", "retired", "unknown"}, name  # publication-status (required)


def test_value_sets_round_trip_to_the_loaded_code_sets(package: KnowledgePackage, knowledge: Knowledge) -> None:
    """Every code group's ValueSet holds exactly the codes and prefixes the screen matches."""
    sets = _of_type(package, "ValueSet")
    for analyte in knowledge.analytes.values():
        assert _codes(sets[canon.resource_id("lab", analyte.id)], canon.LOINC_SYSTEM) == (set(analyte.loinc), set())
    for group in knowledge.drug_groups:
        value_set = sets[canon.resource_id("drug", group.id)]
        assert _codes(value_set, canon.RXNORM_SYSTEM) == ({*group.ingredients, *group.products}, set())
        assert _codes(value_set, canon.ATC_SYSTEM) == (set(group.atc), set(group.atc_prefixes))
    for item in knowledge.condition_sets:
        if not (item.snomed or item.icd10cm or item.icd10cm_prefixes):  # matched by text only: no ValueSet
            assert canon.resource_id("condition", item.id) not in sets
            continue
        value_set = sets[canon.resource_id("condition", item.id)]
        assert _codes(value_set, canon.SNOMED_SYSTEM) == (set(item.snomed), set())
        assert _codes(value_set, canon.ICD10CM_SYSTEM) == (set(item.icd10cm), set(item.icd10cm_prefixes))
    for trigger in knowledge.orders.triggers:
        cpt = {str(code) for low, high in trigger.cpt_ranges for code in range(low, high + 1)}
        value_set = sets[canon.resource_id("order", trigger.id)]
        assert _codes(value_set, canon.CPT_SYSTEM) == (cpt, set())
        assert _codes(value_set, canon.SNOMED_SYSTEM) == (set(trigger.snomed), set())
        assert _codes(value_set, canon.RXNORM_SYSTEM) == (set(trigger.rxnorm), set())
    signs = knowledge.observed_signs
    assert signs is not None
    assert _codes(sets["sign-absent"], canon.SNOMED_SYSTEM) == (set(signs.absent_codes), set())
    assert _codes(sets["sign-absent"], canon.V3_INTERPRETATION_SYSTEM) == (set(signs.absent_interpretations), set())
    assert _codes(sets["pregnancy-status"], canon.LOINC_SYSTEM) == ({*signs.question_loinc, *signs.answers}, set())
    coded = [item for item in knowledge.condition_sets if item.snomed or item.icd10cm or item.icd10cm_prefixes]
    assert len(sets) == len(knowledge.analytes) + len(knowledge.drug_groups) + len(coded) + 2 + len(
        knowledge.orders.triggers
    )


def test_code_system_versions_pinned_only_where_the_group_cites_the_checked_release(
    package: KnowledgePackage, knowledge: Knowledge
) -> None:
    """ATC is pinned to 2026 on a drug group citing who-atc; a group not citing it carries no version."""
    atc = knowledge.code_systems[canon.ATC_SYSTEM]
    for group in knowledge.drug_groups:
        value_set = _of_type(package, "ValueSet")[canon.resource_id("drug", group.id)]
        versions = {inc.get("version") for inc in value_set["compose"]["include"] if inc["system"] == canon.ATC_SYSTEM}
        assert versions == ({atc.version} if atc.citation in group.citations else {None}), group.id
    loinc_versions = {
        inc.get("version")
        for r in _of_type(package, "ValueSet").values()
        for inc in r["compose"]["include"]
        if inc["system"] == canon.LOINC_SYSTEM
    }
    assert loinc_versions == {None}


def test_one_eca_plan_definition_per_rule_per_hook(package: KnowledgePackage, knowledge: Knowledge) -> None:
    """Each rule has a PlanDefinition in patient-view and, unless silent at order time, in both order hooks; its
    trigger is the hook, its endpoint the hook's service, its action the card text."""
    plans = _of_type(package, "PlanDefinition")
    expected = {
        (rule_id, hook)
        for rule_id in knowledge.cards.rules
        for hook in SERVICE_IDS
        if hook == "patient-view" or rule_id not in knowledge.orders.silent_rules
    }
    seen = set()
    for plan in plans.values():
        (action,) = plan["action"]
        (trigger,) = action["trigger"]
        rule = knowledge.cards.rules[plan["title"].split(" ")[0]]
        seen.add((rule.id, trigger["name"]))
        assert plan["type"]["coding"][0]["code"] == "eca-rule" and trigger["type"] == "named-event"
        assert plan["extension"][0]["valueUri"] == f"cds-services/{SERVICE_IDS[trigger['name']]}"
        assert (action["title"], action["description"], action["textEquivalent"]) == (
            rule.summary,
            rule.why,
            rule.action,
        )
        assert [d["label"] for d in action["documentation"]] == list(rule.citations)
    assert seen == expected and len(plans) == len(expected)


def test_suggested_orders_are_activity_definitions(package: KnowledgePackage, knowledge: Knowledge) -> None:
    """Every order a plan suggests resolves to an ActivityDefinition proposing the analyte's LOINC order code."""
    activities = {r["url"]: r for r in _of_type(package, "ActivityDefinition").values()}
    suggested = [sub for p in _of_type(package, "PlanDefinition").values() for sub in p["action"][0].get("action", [])]
    assert suggested
    for sub in suggested:
        activity = activities[sub["definitionCanonical"]]
        assert activity["kind"] == "ServiceRequest" and activity["intent"] == "proposal"
    codes = {a["code"]["coding"][0]["code"] for a in activities.values()}
    assert codes <= {a.order.loinc for a in knowledge.analytes.values()}
    calcium = _of_type(package, "PlanDefinition")["lab.calcium.low-patient-view"]
    assert len(calcium["action"][0]["action"]) == len(knowledge.cards.rules["lab.calcium.low"].labs)


def test_override_reasons_and_library(package: KnowledgePackage, knowledge: Knowledge) -> None:
    """The CodeSystem is the cards' override-reason system; the Library carries the version and every citation."""
    (system,) = _of_type(package, "CodeSystem").values()
    assert system["url"] == knowledge.cards.override_reason_system and system["content"] == "complete"
    assert [(c["code"], c["display"]) for c in system["concept"]] == [
        (r.code, r.display) for r in knowledge.cards.override_reasons
    ]
    (library,) = _of_type(package, "Library").values()
    assert library["version"] == knowledge.version
    kinds = Counter(a["type"] for a in library["relatedArtifact"])
    cited = [a["label"] for a in library["relatedArtifact"] if a["type"] == "citation"]
    assert cited == list(knowledge.citations) and kinds["composed-of"] == len(package.resources) - 1
