"""Privacy at request time: personal-data detection (`pii`), masking for tiers that may not see it (`masking`),
secrets kept out of every text that leaves (`redact`)."""
