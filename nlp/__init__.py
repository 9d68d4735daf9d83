"""Evidence from text: a rule-based spaCy pipeline over notifications, news and reporting.

- :mod:`nlp.extraction` — DSCA notifications to structured sales (phase 1), scored against hand labels
  by :mod:`nlp.evaluation`;
- :mod:`nlp.signals` — early demand signals from dated text about a partner (phase 2);
- :mod:`nlp.topics` — what each partner's texts are about, period by period;
- :mod:`nlp.text_records` — texts to records (pending LORs and NLP evidence rows);
- :mod:`nlp.pipeline` — the shared pipeline, :mod:`nlp.designations` the weapon-designation gazetteer and
  :mod:`nlp.normalise` the small text parsers; the underscored modules are the lexicons and rules.
"""
