"""Drug starts and stops on the lab charts: for each lab, the drugs that medications.yaml says act on it."""

from __future__ import annotations

from collections.abc import Sequence

from service.knowledge import DrugKind, Knowledge
from service.rules import text
from service.workup.charts import BAR_COLOURS, Marker
from service.workup.timeline import MedicationBar

MAX_MARKERS = 6  # per chart: more would bury the results; the medication table lists every use


def _acts_on(bar: MedicationBar, analyte_id: str, knowledge: Knowledge) -> bool:
    """A drug group's ``labs`` (medications.yaml) name the labs it moves; lithium's own level is named there too."""
    group = knowledge.drug_group(bar.group_id)
    return analyte_id in group.labs or (group.kind == DrugKind.LITHIUM and analyte_id == "lithium")


def drug_markers(bars: Sequence[MedicationBar], analyte_id: str, knowledge: Knowledge) -> list[Marker]:
    """Start and stop lines of each drug that acts on the lab, earliest first (at most MAX_MARKERS)."""
    markers = []
    for bar in bars:
        if not bar.group_id or not _acts_on(bar, analyte_id, knowledge):
            continue
        colour = BAR_COLOURS.get(bar.kind, "#37474f")
        if bar.started is not None:
            markers.append(Marker(f"{bar.name} started {text.date(bar.started)}", bar.started, colour, dashed=True))
        if bar.stopped is not None:
            markers.append(Marker(f"{bar.name} stopped {text.date(bar.stopped)}", bar.stopped, colour, dashed=True))
    return sorted(markers, key=lambda marker: marker.when)[:MAX_MARKERS]
