"""Lexicons for early demand signals: generic family terms, urgency cues, negation, relation patterns.

**Family terms.** Besides designations (``F-16``, ``Patriot``), texts name kinds of equipment. Every SIPRI
weapon description in ``default_data/description_families.csv`` (``combat helicopter``, ``frigate``,
``surface-to-air missile system``) is a term for its family, in singular and plural; `FAMILY_SYNONYMS`
adds the everyday words the register does not use (``fighter jets``, ``drones``, ``air defence``).

**Urgency.** A small transparent lexicon. Each cue has a weight: positive cues signal an urgent,
concerning capability gap (``urgent``, ``shortfall``, ``lacks``, ``obsolete``, ``vulnerable``), negative
cues signal that the need is met or postponed (``sufficient``, ``postponed``, ``cancelled``). A cue is
negated, and its weight flipped, when a negator (``not``, ``no``, ``never``, ``without``, ``n't``,
``no longer``, ``hardly``) occurs among the three tokens before it in the same clause (a comma, semicolon
or ``but`` ends the clause). An intensifier right before a cue (``very``, ``increasingly``) multiplies it
by 1.5. A sentence's urgency is ``tanh(sum of weights / 2)``, in (-1, 1); 0 means no cue.

**Relations.** Dependency-free patterns for threat → gap → system chains, each capturing a short phrase
(to the next clause boundary, at most eight words):

* threat: ``to counter the threat of X``, ``threats (of|from|posed by) X``, ``against X``,
  ``deter X``, ``in response to X``;
* gap: ``lacks (the) capability (to|against) X``, ``(capability|capacity) gap in X``,
  ``shortfall in X``, ``shortage of X``, ``insufficient X``, ``replace its aging X``;
* system: ``creating a requirement for Y``, ``requirement for Y``, ``need(s) for Y``, ``plans to
  (buy|acquire|procure|purchase) Y``, ``replace ... with Y``.
"""

from __future__ import annotations

import re

from nlp.normalise import wordset

# Everyday family terms not worded like a SIPRI description (singular; plurals are added by the matcher).
FAMILY_SYNONYMS: dict[str, str] = {
    "fighter jet": "fighter_aircraft",
    "fighter": "fighter_aircraft",
    "combat aircraft": "fighter_aircraft",
    "warplane": "fighter_aircraft",
    "multirole fighter": "fighter_aircraft",
    "attack helicopter": "attack_helicopter",
    "utility helicopter": "transport_helicopter",
    "transport helicopter": "transport_helicopter",
    "maritime patrol aircraft": "special_mission_aircraft",
    "airborne early warning aircraft": "special_mission_aircraft",
    "tanker aircraft": "transport_aircraft",
    "airlifter": "transport_aircraft",
    "drone": "uav",
    "uav": "uav",
    "unmanned aerial vehicle": "uav",
    "main battle tank": "tank",
    "tank": "tank",
    "armoured vehicle": "apc_ifv",
    "armored vehicle": "apc_ifv",
    "infantry fighting vehicle": "apc_ifv",
    "armored personnel carrier": "apc_ifv",
    "howitzer": "gun_artillery",
    "artillery": "gun_artillery",
    "rocket launcher": "rocket_artillery",
    "multiple launch rocket system": "rocket_artillery",
    "air defence": "air_defence_system",
    "air defense": "air_defence_system",
    "air defence system": "air_defence_system",
    "air defense system": "air_defence_system",
    "missile defence": "air_defence_system",
    "missile defense": "air_defence_system",
    "surface-to-air missile": "sam",
    "interceptor": "sam",
    "anti-ship missile": "anti_ship_missile",
    "cruise missile": "surface_to_surface_missile",
    "ballistic missile": "surface_to_surface_missile",
    "anti-tank missile": "anti_tank_missile",
    "air-to-air missile": "air_to_air_missile",
    "precision-guided munition": "guided_bomb",
    "guided bomb": "guided_bomb",
    "torpedo": "torpedo",
    "submarine": "combat_ship",
    "frigate": "combat_ship",
    "corvette": "combat_ship",
    "destroyer": "combat_ship",
    "warship": "combat_ship",
    "patrol boat": "patrol_craft",
    "patrol vessel": "patrol_craft",
    "minehunter": "amphibious_support_ship",
    "radar": "surface_radar",
    "sonar": "sonar",
    "satellite": "satellite",
}

# Urgency cues (lower-case lemma-like forms matched on the token's lower text) and their weights.
URGENCY: dict[str, float] = {
    "urgent": 2.0,
    "urgently": 2.0,
    "critical": 2.0,
    "critically": 2.0,
    "pressing": 1.5,
    "immediate": 1.5,
    "immediately": 1.5,
    "acute": 1.5,
    "severe": 1.5,
    "serious": 1.0,
    "shortfall": 1.5,
    "shortfalls": 1.5,
    "shortage": 1.5,
    "shortages": 1.5,
    "gap": 1.0,
    "gaps": 1.0,
    "lack": 1.5,
    "lacks": 1.5,
    "lacking": 1.5,
    "insufficient": 1.5,
    "inadequate": 1.5,
    "obsolete": 1.5,
    "aging": 1.0,
    "ageing": 1.0,
    "outdated": 1.0,
    "worn": 1.0,
    "grounded": 1.5,
    "vulnerable": 1.5,
    "vulnerability": 1.5,
    "threat": 1.0,
    "threats": 1.0,
    "threaten": 1.0,
    "threatens": 1.0,
    "concern": 1.0,
    "concerns": 1.0,
    "concerned": 1.0,
    "alarm": 1.5,
    "worried": 1.0,
    "deteriorating": 1.0,
    "degraded": 1.0,
    "need": 0.5,
    "needs": 0.5,
    "require": 0.5,
    "requires": 0.5,
    "requirement": 0.5,
    "priority": 1.0,
    "must": 0.5,
    "accelerate": 1.0,
    "expedite": 1.5,
    "replace": 0.5,
    "replacement": 0.5,
    "adequate": -1.0,
    "sufficient": -1.0,
    "satisfied": -1.0,
    "surplus": -1.0,
    "postpone": -1.5,
    "postponed": -1.5,
    "defer": -1.5,
    "deferred": -1.5,
    "delay": -1.0,
    "delayed": -1.0,
    "cancel": -1.5,
    "cancelled": -1.5,
    "canceled": -1.5,
    "shelve": -1.5,
    "shelved": -1.5,
    "freeze": -1.0,
    "frozen": -1.0,
}
NEGATORS = wordset("not no never without n't nor neither hardly barely cannot")
INTENSIFIERS = wordset("very extremely increasingly highly most especially particularly seriously")
CLAUSE_BREAKS = wordset(", ; : but however although though while whereas")
NEGATION_WINDOW = 3
INTENSIFIER_FACTOR = 1.5
URGENCY_SCALE = 2.0

_PHRASE = (
    r"(?P<{name}>[^,;:.()]{{2,80}}?)(?=\s*(?:[,;:.()]|\band\b|\bbut\b|\bwhich\b|\bwhile\b|\bto\b|\bby\b|$))"
)


# The same, but "to" and "by" may continue the phrase ("capability to counter submarines").
_LONG_PHRASE = r"(?P<{name}>[^,;:.()]{{2,80}}?)(?=\s*(?:[,;:.()]|\band\b|\bbut\b|\bwhich\b|\bwhile\b|$))"


def _p(template: str, name: str, long: bool = False) -> re.Pattern[str]:
    phrase = (_LONG_PHRASE if long else _PHRASE).format(name=name)
    return re.compile(template.replace("{X}", phrase), re.IGNORECASE)


THREAT_PATTERNS: tuple[re.Pattern[str], ...] = (
    _p(
        r"\bto counter (?:the )?(?:growing |increasing |rising )?(?:threats?|danger) "
        r"(?:of|from|posed by) {X}",
        "threat",
    ),
    _p(r"\bthreats? (?:of|from|posed by) {X}", "threat"),
    _p(r"\b(?:capabilit(?:y|ies)|defen[cs]e|protection|deterrent) against {X}", "threat"),
    _p(r"\bagainst (?:the )?{X}", "threat"),
    _p(r"\b(?:to )?counter {X}", "threat"),
    _p(r"\bdeter {X}", "threat"),
    _p(r"\bin response to {X}", "threat"),
)
GAP_PATTERNS: tuple[re.Pattern[str], ...] = (
    _p(
        r"\black(?:s|ing)? (?:of )?(?:the |any |a )?(?=(?:capabilit(?:y|ies)|capacity|ability|means) ){X}",
        "gap",
        long=True,
    ),
    _p(r"\black(?:s|ing)? (?:of )?(?:the |any |a )?{X}", "gap"),
    _p(r"\b(?:capability|capacity) gaps? in {X}", "gap"),
    _p(r"\bshortfalls? in {X}", "gap"),
    _p(r"\bshortages? of {X}", "gap"),
    _p(r"\binsufficient {X}", "gap"),
    re.compile(
        r"\breplace (?:its |their |the |an? )?(?P<gap>(?:aging|ageing|obsolete|old|outdated|worn-out) "
        r"[^,;:.()]{2,60}?)(?=\s*(?:[,;:.()]|\bwith\b|\band\b|$))",
        re.IGNORECASE,
    ),
)
SYSTEM_PATTERNS: tuple[re.Pattern[str], ...] = (
    _p(r"\bcreating (?:a|an) (?:urgent |pressing |new )?requirement for {X}", "system"),
    _p(r"\brequirements? for {X}", "system"),
    _p(r"\bneeds? (?:for )?(?:new |more |additional |modern )?{X}", "system"),
    _p(r"\bplans? to (?:buy|acquire|procure|purchase|order) {X}", "system"),
    _p(r"\breplace [^,;:.]{2,80}? with {X}", "system"),
)
