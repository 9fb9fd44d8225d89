"""The clinical knowledge base: the YAML files in this folder, validated once by typed models, immutable afterwards.

``load_knowledge()`` gives the packaged base (cached); ``load_knowledge_from(folder)`` loads another copy and raises
``KnowledgeError`` on any bad file or dangling reference, so a bad file stops the app from starting.
"""

from service.knowledge.base import Knowledge
from service.knowledge.card_text import CardRule, CardText, ThyroidPattern
from service.knowledge.checks import KnowledgeError
from service.knowledge.condition_models import ConditionSet
from service.knowledge.loader import (
    DENERVATION_GROUP,
    DENERVATION_RULE,
    KNOWLEDGE_DIR,
    LITHIUM_TOXIC_RULE,
    RED_FLAGS_RULE,
    WORKUP_RULE,
    expected_rule_ids,
    load_knowledge,
    load_knowledge_from,
)
from service.knowledge.models import (
    AlbuminCorrection,
    Analyte,
    Citation,
    ConditionRole,
    CorrectionFormula,
    Direction,
    DrugGroup,
    DrugKind,
    LabFamily,
    ValueRange,
    Workup,
)
from service.knowledge.order_rules import CulpritOrder, OrderKnowledge, OrderTrigger

__all__ = [
    "DENERVATION_GROUP",
    "DENERVATION_RULE",
    "KNOWLEDGE_DIR",
    "LITHIUM_TOXIC_RULE",
    "RED_FLAGS_RULE",
    "WORKUP_RULE",
    "AlbuminCorrection",
    "Analyte",
    "CardRule",
    "CardText",
    "Citation",
    "ConditionRole",
    "ConditionSet",
    "CorrectionFormula",
    "CulpritOrder",
    "Direction",
    "DrugGroup",
    "DrugKind",
    "Knowledge",
    "KnowledgeError",
    "LabFamily",
    "OrderKnowledge",
    "OrderTrigger",
    "ThyroidPattern",
    "ValueRange",
    "Workup",
    "expected_rule_ids",
    "load_knowledge",
    "load_knowledge_from",
]
