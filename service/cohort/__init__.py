"""The cohort screen: the hooks' screen over every patient of a FHIR Bulk Data export (DuckDB, or Apache Spark).

``service.cohort.run.run_cohort`` is the Python API; ``service.cohort.screening.screen_group`` the one call into the
screen. Nothing is imported here, so the CLI starts without the optional engines installed.
"""
