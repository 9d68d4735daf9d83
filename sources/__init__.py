"""Adapters from public data sources to totaldemand's records (:mod:`evidence.records`).

One module per source: the SIPRI trade register (:mod:`sources.sipri`) and every supplier's orders in it
(:mod:`sources.suppliers`), DoD budget lines (:mod:`sources.dod_budget`), SIPRI military expenditure
(:mod:`sources.milex`), Security Assistance Monitor's sales channels (:mod:`sources.sam`) and readiness
reports (:mod:`sources.readiness_reports`); :mod:`sources.country_years` is what the country × year
sources share, and :mod:`sources.augment` adds rows from any of them to an existing dataset.
"""
