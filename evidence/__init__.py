"""The records totaldemand reasons about, their files, and the reference tables that name things.

- :mod:`evidence.records` — each record's layout; :mod:`evidence.loaders` and :mod:`evidence.writers`
  read (validating every row) and write (atomically) them; :mod:`evidence.strict_json` reads JSON a
  careless client wrote.
- Reference tables shipped in ``default_data/``: families (:mod:`evidence.taxonomy`), partners
  (:mod:`evidence.gazetteer`), named systems (:mod:`evidence.systems`), multinational buyers
  (:mod:`evidence.organisations`), production lines (:mod:`evidence.lines`), delivery lags
  (:mod:`evidence.lags`) and the fleet-readiness proxy (:mod:`evidence.readiness`).

The adapters that build these records from public data are in :mod:`sources`; text is read in :mod:`nlp`.
"""
