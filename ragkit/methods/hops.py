"""Connected answers: a second retrieval for the entity a question needs resolved first.

"What is the depth rating of the buoy model that is installed at the Harwick site?" needs two
documents: the site register names the model, the model's manual its rating. With rules, not a planner (a 135M
model cannot plan), as the bridge-entity retrieval of multi-hop QA does (Xiong et al. 2021,
"Answering Complex Open-Domain Questions with Multi-Hop Dense Retrieval", arXiv 2009.12756:
retrieve, take the passage's bridge entity into the next query):

1. A question of the form "<head> the <noun> that|which|who|where <clause>" is split; the clause
   is retrieved first ("is installed at the Harwick site"). A question naming a code and asking
   about one of its properties ("ticket T-1042, given its priority") is retrieved whole, and the
   passages that hold the code, and in them the lines that do, are the first hop.
2. The best-matching sentence of the first hop's top passage (the next one when it names nothing
   new) gives the bridge: codes (OS4L-2291, P2, TB-8) and capitalised names it holds that the
   question does not (months, weekdays and document words left out). Sentences are read with
   their context (`ragkit.methods.base.sentences(labelled=True)`): a table row with its column
   names, a record's field with the record's name ("ticket: T-1042 | priority: P1"), so the bridge
   is the named record's value, not a neighbour's. Numbers the clause states ("every six months")
   must match exactly. A person asked about ("the job title of the person who e-mailed ...") is
   bridged by their name alone, from the nearest of four lines that names someone.
3. The head plus the bridge is retrieved again ("the depth rating of the buoy model Osprey 4L");
   the best passage of another document that names the bridge is shown first, the bridge's own
   passage after it. No bridge: no second hop.
4. The answer's evidence (`rank_evidence`) puts sentences naming the bridge first and leaves out
   the bridge document's other lines; the bridge itself is never the answer (`spans`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_RELATIVE = re.compile(
    r"^(?P<head>.*?\b(?:the|a|an|its)\s+[\w\-. ]{2,60}?)\s*,?\s+(?:that|which|who|whom|whose|where)\s+(?P<clause>.{6,})$",
    re.IGNORECASE,
)
CODE = re.compile(r"\b(?=[A-Z0-9\-]*\d)(?=[A-Z0-9\-]*[A-Z])[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*\b")
_NAME = re.compile(r"\b[A-Z][a-zà-ÿ]+(?:[ \-](?:[A-Z][a-zà-ÿ]+|\d+[A-Za-z]*\b))*")  # "Bastiaan Oorthuys", "Osprey 4L"
_NOT_NAMES = frozenset(
    "The A An And Or Of In On At For To From By With This That These Those It Its We Our You Your If When Where Who What Which How Why "
    "Every All Each No Not Dear Subject Date Re Fwd Manual Revision Rev Release Notes Page Table "
    "January February March April May June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)


@dataclass
class HopPlan:
    first_query: str
    head: str  # what is asked about the bridge
    reason: str  # relative_clause | code

    @property
    def asks_person(self) -> bool:
        """Whether the bridge is a person ("the job title of the person who e-mailed ..."): their name,
        not the codes in their sentence, goes into the second query."""
        return bool(_PERSON_HEAD.search(self.head))


_PERSON_HEAD = re.compile(
    r"\b(?:person|people|employee|colleague|manager|engineer|author|sender|customer|contact|lead|leader|owner|who)\s*$", re.IGNORECASE
)


@dataclass
class Hops:
    steps: list[dict] = field(default_factory=list)


def plan(question: str) -> HopPlan | None:
    """How to split a question into two retrievals, or None for a one-hop question."""
    q = question.strip().rstrip("?").strip()
    m = _RELATIVE.match(q)
    if m and len(m.group("head").split()) >= 3:
        return HopPlan(first_query=m.group("clause"), head=m.group("head"), reason="relative_clause")
    if CODE.search(q) and re.search(r"\b(?:given|its|their|whose)\b", q, re.IGNORECASE):
        return HopPlan(first_query=q, head=q, reason="code")
    return None


def bridge_entities(sentence: str, question: str, limit: int = 3, names_first: bool = False) -> list[str]:
    """Codes and names in `sentence` that the question does not already hold (names first when the bridge is a person)."""
    asked = question.lower()
    found: list[str] = []
    codes = [m.group(0) for m in CODE.finditer(sentence) if m.group(0).lower() not in asked]
    for code in codes if not names_first else []:
        if code not in found:
            found.append(code)
    for m in _NAME.finditer(sentence):
        name = m.group(0)
        words = [w for w in re.split(r"[ \-]", name) if w not in _NOT_NAMES]
        if words and all(w.lower() not in asked for w in words):
            cleaned = " ".join(words)
            if cleaned not in found:
                found.append(cleaned)
    for code in codes if names_first else []:
        if code not in found:
            found.append(code)
    return found[:limit]


