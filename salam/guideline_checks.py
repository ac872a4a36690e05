"""Guidelines that must not reach an examination prompt, whatever the question.

A guideline is pasted in front of other questions at examination time, so the study
assistant's output is text that steers the main model. Two kinds are rejected before they are
stored (rejected, not rewritten: a guideline with such a phrase carries no advice worth saving,
and a rewrite that removed the phrase could leave a variant that still works):

- text that reads as an instruction about the prompt itself: "ignore all previous
  instructions", "disregard the above", "system prompt", chat-template markers such as
  `<|im_start|>` or `[INST]`, "you are now a ...". Checked in the guideline and in the reason
  (the reason is stored and used as fine-tuning data for the assistant).
- a guideline that names an answer label: "(A)", "the answer is B", "choose C", "option D is
  correct". Only labels of the question count (all of A-Z for a free-form question, since a
  guideline may be retrieved for any other question); only upper case, because "(a)", "(b)"
  are list markers and "a" is an article. The reason may name labels: it explains which
  answer the model gave, and it never reaches the main model.

Words alone are not enough: "Check each option against the facts" or "do not ignore the
context" pass.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from salam.records import LETTERS

REJECTED_GUIDELINE = "rejected_guideline"

_NOT_NEGATED = r"(?<!\bnot )(?<!n't )(?<!\bnever )"
_OVERRIDE = r"(?:ignore|disregard|forget|override|bypass)"
_PROMPT_TALK = (
    # "ignore all previous instructions", "disregard your rules", "forget the prior prompt"
    _NOT_NEGATED + r"\b" + _OVERRIDE + r"\s+(?:all\s+|any\s+)?(?:of\s+)?"
    r"(?:the\s+|your\s+|these\s+|those\s+|my\s+)?"
    r"(?:(?:previous|prior|above|earlier|preceding|original|initial|system|other)\s+)?"
    r"(?:instructions?|prompts?|directions|directives?|rules|commands?|messages?)\b",
    # "disregard the above", "forget everything before", "ignore the text above"
    _NOT_NEGATED + r"\b" + _OVERRIDE + r"\s+(?:all\s+|everything\s+|anything\s+)?(?:of\s+)?"
    r"(?:the\s+|what\s+(?:is|was)\s+(?:written\s+|said\s+)?)?"
    r"(?:(?:text|question|context|passage|content|words)\s+)?(?:above|before)\b",
    r"\bsystem\s+(?:prompt|message|instructions?)\b",
    r"\b(?:new|updated|real|actual|hidden)\s+instructions?\b",
    r"\byou\s+are\s+now\s+(?:a|an|in|the)\b",
    r"\b(?:developer|jailbreak|god)\s+mode\b",
    # chat-template and instruction-format markers
    r"<\|[a-z_]+\|>",
    r"\[/?INST\]",
    r"<</?SYS>>",
    r"^\s*#{2,}\s*(?:system|instruction|response)\b",
    r"^\s*(?:system|assistant|user)\s*:",
)
_PROMPT_TALK_RE = re.compile("|".join(f"(?:{pattern})" for pattern in _PROMPT_TALK), re.I | re.M)

_STATING = (
    r"(?i:\b(?:answer|option|choice|choose|select|pick|letter|label|reply|respond)\b"
    r"(?:\s+(?:is|was|would\s+be|should\s+be|must\s+be|will\s+be|to\s+be|with))?"
    r"\s*[:=]?\s*[\"'(]?\s*)"
)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def guideline_problem(guideline: str, reason: str = "", labels: Sequence[str] = ()) -> str | None:
    """Why this feedback must not be stored, or None when it may.

    `labels` are the question's option labels, "(A)" or "A"; empty for a free-form question.
    """
    guideline_text, reason_text = _plain(guideline), _plain(reason)
    for field, text in (("guideline", guideline_text), ("reason", reason_text)):
        talk = _PROMPT_TALK_RE.search(text)
        if talk:
            return f"the {field} talks to the model about its prompt: {_quote(talk)}"
    named = _label_named(guideline_text, _letters(labels))
    if named:
        return f"the guideline names an answer label: {_quote(named)}"
    return None


def _plain(text: str) -> str:
    """NFKC (full-width letters become ASCII), no zero-width characters, single spaces."""
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return "\n".join(" ".join(line.split()) for line in folded.splitlines())


def _letters(labels: Sequence[str]) -> str:
    letters = {label.strip().strip("()").strip() for label in labels}
    kept = "".join(sorted(letter for letter in letters if letter in LETTERS and letter))
    return kept or LETTERS


def _label_named(text: str, letters: str) -> re.Match[str] | None:
    letter = f"[{letters}]"
    patterns = (
        r"\(\s*" + letter + r"\s*\)",  # "(A)"
        _STATING + letter + r"\b",  # "the answer is B", "choose C", "option D"
        r"(?<![\w'])" + letter + r"\)?\s+(?:is|was)\s+(?:the\s+)?"
        r"(?i:correct|right|true|best|answer)\b",  # "B is correct"
    )
    return re.search("|".join(f"(?:{pattern})" for pattern in patterns), text)


def _quote(match: re.Match[str], most: int = 120) -> str:
    """The sentence holding the match, quoted, at most `most` characters."""
    text = match.string
    start = max(text.rfind(stop, 0, match.start()) for stop in ".!?\n") + 1
    ends = [end for stop in ".!?\n" if (end := text.find(stop, match.end())) >= 0]
    sentence = text[start : min(ends, default=len(text))].strip()
    return repr(sentence if len(sentence) <= most else sentence[: most - 1] + "…")
