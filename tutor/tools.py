"""Tools over memory: when the student proposes an answer in the chat, whether it is right
comes from the exercise's checker (SymPy, numbers with tolerance, accepted texts), not
from the model's opinion. The verdict goes into the prompt as a fact the tutor must use.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from courses.checkers import Status, check_answer

MAX_CANDIDATES = 4
_NUMBER = re.compile(r"[-+\u2212]?\d+(?:[.,]\d+)?(?:\s*/\s*\d+)?")
_LETTER = re.compile(
    r"(?:^|\b(?:option|choice|answer|opción|opcion|respuesta|réponse|reponse|la|le|el)\s+)"
    r"\(?([a-h])\)?(?:$|[\s.,!?)])",
    re.IGNORECASE,
)
_AFTER_EQUALS = re.compile(r"=\s*([^=?!;]{1,80})")


@dataclass(frozen=True)
class Verdict:
    candidate: str
    correct: bool


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip()


def candidates(kind: str, text: str, choice_count: int) -> list[Any]:
    """What in the student's message could be an answer to an exercise of `kind`."""
    text = _normalize(text)[:500]
    found: list[Any] = []
    if kind in ("single_choice", "multiple_choice"):
        for match in _LETTER.finditer(text):
            index = ord(match.group(1).lower()) - ord("a")
            if index < choice_count and [str(index)] not in found:
                found.append([str(index)])
    elif kind == "numeric":
        for match in _NUMBER.finditer(text):
            value = match.group(0).replace(" ", "")
            if value not in found:
                found.append(value)
    elif kind == "expression":
        for match in _AFTER_EQUALS.finditer(text):
            found.append(match.group(1).strip())
        if not found and len(text) <= 80:
            found.append(text.rstrip("?.! "))
    elif kind == "short_text" and len(text) <= 80:
        found.append(text.rstrip("?.! "))
    return found[:MAX_CANDIDATES]


def check_proposals(*, snapshot: dict[str, Any], text: str) -> list[Verdict]:
    """Check every candidate answer in the student's message with the exercise's own
    checker; malformed candidates are skipped."""
    verdicts = []
    for candidate in candidates(snapshot["kind"], text, len(snapshot.get("choices", []))):
        result = check_answer(snapshot=snapshot, response=candidate)
        if result.status in (Status.CORRECT, Status.INCORRECT):
            shown = chr(ord("A") + int(candidate[0])) if isinstance(candidate, list) else candidate
            verdicts.append(Verdict(candidate=str(shown), correct=result.is_correct))
    return verdicts


CHOICE_KINDS = ("single_choice", "multiple_choice")


def elimination_exhausted(*, snapshot: dict[str, Any], earlier: list[dict[str, Any]]) -> bool:
    """Whether confirming or rejecting one more choice would let the student find the
    answer by elimination instead of by reasoning: once the chat has rejected all but two
    of a choice exercise's options, verdicts stop (the student submits in the exercise,
    where the attempt counts). `earlier`: the verdict notes of this exercise's earlier
    replies ({"candidate", "correct"})."""
    if snapshot["kind"] not in CHOICE_KINDS:
        return False
    rejected = {v["candidate"] for v in earlier if not v.get("correct")}
    return len(rejected) >= max(1, len(snapshot.get("choices", [])) - 2)
