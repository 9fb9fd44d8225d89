"""Drug starts and stops on the lab charts: for each lab, the drugs that medications.yaml says act on it."""

from __future__ import annotations

from collections.abc import Sequence

from service.knowledge import DrugKind, Knowledge
from service.rules import text
from service.workup.charts import BAR_COLOURS, Marker
from service.workup.timeline import MedicationBar

MAX_MARKERS = 6  # per chart: more would bury the results; the medication table lists every use


def _acts_on(bar: MedicationBar, analyte_id: str, knowledge: Knowledge) -> bool:
    """A drug group's ``labs`` (medications.yaml) name the labs it moves; the lithium level moves with lithium itself
    and with the drugs of ``lithium_context.interacting_groups`` (thiazides, ACE inhibitors, ARBs, NSAIDs)."""
    group = knowledge.drug_group(bar.group_id)
    raises_lithium = group.kind == DrugKind.LITHIUM or group.id in knowledge.lithium_context.interacting_groups
    return analyte_id in group.labs or (analyte_id == "lithium" and raises_lithium)


def _start_text(bar: MedicationBar, bars: Sequence[MedicationBar]) -> str:
    """'started', or a dose change when an earlier use of the same drug had another product or dose (issue 15)."""
    start = bar.started
    earlier = [b for b in bars if b.name == bar.name and b.started and start and b.started < start]
    previous = max(earlier, key=lambda b: b.start, default=None)
    if previous is not None and previous.regimen != bar.regimen:
        return f"dose changed to {bar.dose}" if bar.dose else "product or dose changed"
    return f"started ({bar.dose})" if bar.dose else "started"


def drug_markers(bars: Sequence[MedicationBar], analyte_id: str, knowledge: Knowledge) -> list[Marker]:
    """Start and stop lines of each drug that acts on the lab, earliest first (at most MAX_MARKERS)."""
    markers = []
    for bar in bars:
        if not bar.group_id or not _acts_on(bar, analyte_id, knowledge):
            continue
        colour = BAR_COLOURS.get(bar.kind, "#37474f")
        if bar.started is not None:
            title = f"{bar.name} {_start_text(bar, bars)} {text.date(bar.started)}"
            markers.append(Marker(title, bar.started, colour, dashed=True))
        if bar.stopped is not None:
            markers.append(Marker(f"{bar.name} stopped {text.date(bar.stopped)}", bar.stopped, colour, dashed=True))
    return sorted(markers, key=lambda marker: marker.when)[:MAX_MARKERS]
