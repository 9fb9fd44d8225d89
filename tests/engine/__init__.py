"""Whole-path tests against a real FHIR R4 engine (Medplum, in memory) over a loopback socket."""
