"""The cohort's one error: a run that cannot start or go on."""


class CohortError(Exception):
    """The run cannot start or go on (bad input folder, state of another run, export refused)."""
