"""How often the screen recognises a drug by name only, over a folder of Synthea R4 bundles.

Usage: ``.venv/bin/python bench/name_only.py [FOLDER]`` (default: fixtures/synthea-r4, or $BENCH_SYNTHEA_DIR).
Each patient is screened three ways at the fixtures' instant: as published; with a documented fasciculation added
(the full screen: culprit drugs speak); and with the fasciculation and bench/bodies.py's abnormal labs added (the
lab cards name their contributing drugs). Printed per way: cards, cards that say "recognised by name only", and
the medication codings behind the name-only matches (system|code display, most frequent first).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bodies import SYNTHEA_DIR, added_labs, fasciculation_condition, load_patient, synthea_files  # noqa: E402
from service.facts.code_index import Confidence  # noqa: E402
from service.facts.medications import medication_uses  # noqa: E402
from service.facts.records import build_record  # noqa: E402
from service.knowledge import Knowledge, load_knowledge  # noqa: E402
from service.screen import screen_patient  # noqa: E402

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # the fixtures' instant (tests/conftest.py)
WAYS = ("as published", "+ fasciculation", "+ fasciculation and abnormal labs")
Resource = dict[str, Any]


def _bundle(resources: Iterable[Resource]) -> Resource:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _variants(path: Path) -> list[list[Resource]]:
    """The patient's resources in each of the three ways (none for a bundle without a Patient)."""
    try:
        patient = load_patient(path)
    except StopIteration:  # Synthea's hospital and practitioner bundles
        return []
    base = [patient.patient, *patient.resources]
    pid = str(patient.patient["id"])
    with_twitch = [*base, fasciculation_condition(pid, NOW)]
    return [base, with_twitch, [*with_twitch, *added_labs(pid, NOW)]]


def _name_only_codings(resources: list[Resource], knowledge: Knowledge) -> list[str]:
    """The medication codings of every use recognised by text, as 'code display'."""
    found: list[str] = []
    for raw in resources:
        if raw.get("resourceType") != "MedicationRequest":
            continue
        record = build_record([_bundle([raw])])
        if any(use.confidence == Confidence.TEXT for use in medication_uses(record, knowledge)):
            coding = ((raw.get("medicationCodeableConcept") or {}).get("coding") or [{}])[0]
            found.append(f"{coding.get('code')} {coding.get('display')}")
    return found


def measure(folder: Path, knowledge: Knowledge) -> None:
    """Print the counts for every bundle in ``folder``."""
    phrase = knowledge.cards.phrases["drug_by_name"].strip()
    cards = [0] * len(WAYS)
    name_only = [0] * len(WAYS)
    codings: collections.Counter[str] = collections.Counter()
    files = [path for path in synthea_files(folder) if _variants(path)]
    for path in files:
        for way, resources in enumerate(_variants(path)):
            result = screen_patient(
                build_record([_bundle(resources)]), now=NOW, hook_instance="bench", knowledge=knowledge
            )
            cards[way] += len(result.cards)
            name_only[way] += sum(phrase in f"{c.summary} {c.detail}" for c in result.cards)
        codings.update(_name_only_codings(_variants(path)[0], knowledge))
    print(f"{len(files)} patients in {folder}")
    for way, label in enumerate(WAYS):
        print(f"  {label:36} cards {cards[way]:5}   recognised by name only {name_only[way]:5}")
    print(f"  MedicationRequests matched by name only: {sum(codings.values())}")
    for coding, count in codings.most_common():
        print(f"    {count:4}  {coding}")


def main(argv: list[str] | None = None) -> int:
    """Parse the folder argument and print the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=SYNTHEA_DIR)
    args = parser.parse_args(argv)
    measure(args.folder, load_knowledge())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
