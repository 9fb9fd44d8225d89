"""Small pure rule functions: PatientFacts + Knowledge -> Findings. No I/O here."""
