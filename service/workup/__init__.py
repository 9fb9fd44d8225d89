"""The work-up view: a SMART on FHIR app (and an offline page) over the same facts and rules as the cards."""
