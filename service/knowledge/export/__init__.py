"""The loaded knowledge as FHIR R4 artifacts (an NPM package): generated, never a second source.

``build_package(knowledge, service_ids)`` builds it in memory, ``write_package`` writes it, ``web`` serves it
(docs/knowledge-export.md).
"""

from service.knowledge.export.package import KnowledgePackage, build_package, write_package

__all__ = ["KnowledgePackage", "build_package", "write_package"]
