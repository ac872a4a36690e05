"""Grading: which answer a model gave, and whether it is the right one.

Multiple choice. `extract_choice` reads the option a model chose from free text, trying in
turn: a label or an option's text at the very start ("(B)", "b)", "B.", "12/25/1937"), the
first stated answer ("The answer is B", "Answer: (C)", "I choose option D"), the only
parenthesised label in the output, and the only option text in it. Anything else, or a label
the question does not have, is no answer. When a label and the text after it disagree
("(A) 12/25/1937" where that date is option B) the label wins: it is what the model chose.

The reference code's `simple_check_result` grades differently, and salam departs from it on
purpose:

- it strips the prediction with `lstrip('A: ')`, which removes any leading run of the
  characters "A", ":" and " ". A bare "A" becomes "", "A man" becomes "man", and an answer
  "A" can never be graded right. salam reads a bare leading "A" (or "I") followed by words as
  a label only when what follows confirms it (the option's own text, "is correct"), so the
  article of "A man ..." is not option A;
- it counts a prediction right when the lowercased target label "(a)" occurs anywhere in it,
  so "(b) not (a)", or an echo of the whole option list, is graded right for target (A).
  salam grades the one option the model chose, and an output naming several options without
  choosing one is no answer;
- it needs the parentheses, so "B", "b)" or "The answer is B." is wrong even when B is the
  target; salam reads all of these, and the option's text alone ("Not known").

Free-form targets ("8", "True", "apple banana") are compared after `normalize_answer` on both
sides; the answer is the stated one ("the answer is 8") or the first line of the output,
narrowed to its only number when the target is a number and to its leading verdict word when
the target is one (True/False, Yes/No, valid/invalid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from salam.records import QuestionRecord


@dataclass(frozen=True)
class Grade:
    """`answer` is the label read ("(B)"), the normalised free-form answer, or None."""

    answer: str | None
    correct: bool


def grade(record: QuestionRecord, output: str) -> Grade:
    if record.is_multiple_choice:
        choice = extract_choice(output, record)
        return Grade(choice, choice is not None and choice == target_label(record))
    answer = _free_form_answer(output, record.target)
    return Grade(answer, answer is not None and answer == normalize_answer(record.target))


def target_label(record: QuestionRecord) -> str | None:
    """The label of the correct option, also when a dataset gives the option's text instead."""
    label = _canonical_label(record.target)
    if label in record.labels:
        return label
    folded = fold_text(record.target)
    for candidate, option in zip(record.labels, record.options, strict=True):
        if fold_text(option) == folded:
            return candidate
    return None


# --- multiple choice ---------------------------------------------------------------------

_PAREN_LABEL = re.compile(r"\(\s*([A-Za-z])\s*\)")
_LEADING_LABEL = re.compile(
    r"\(\s*(?P<paren>[A-Za-z])\s*\)"  # (B), ( b )
    r"|(?P<closed>[A-Za-z])\)"  # b)
    r"|(?P<bare>[A-Za-z])(?=[.:,;!?]|$)"  # B.  B:  B
    r"|(?P<spaced>[A-Za-z])(?=\s)"  # B because ...
)
# "A" and "I" are also English words, so a spaced one needs the rest of the text to agree.
_WORD_LETTERS = frozenset("AI")
_VERDICT = re.compile(r"(?:is|would be|seems)\s+(?:the\s+)?(?:correct|right|best|answer)\b", re.I)
_ANSWER_PREFIX = re.compile(r"(?:A|Answer)\s*:\s*(?=\S)", re.I)
_ANSWER_MARKER = re.compile(
    # A line break ends a statement unless a colon leads on: "Cannot answer\n(C) ..." is an
    # option list, "Answer:\n(C)" an answer.
    r"\b(?:answer|option|choice)\b"
    r"(?:[ \t]+(?:is|would be|should be|will be|seems to be))?[ \t]*(?:[:=]\s*)?(?:option[ \t]+)?"
    r"|\bI[ \t]+(?:would[ \t]+|will[ \t]+|'d[ \t]+)?(?:choose|pick|select|go with)[ \t]+"
    r"(?:option[ \t]+)?",
    re.I,
)
_MARKUP = re.compile(r"[*`]+")


def extract_choice(output: str, record: QuestionRecord) -> str | None:
    """The label ("(B)") of the option chosen in `output`, or None if none or ambiguous."""
    if not record.options:
        return None
    text = _MARKUP.sub("", output).strip().strip("\"'").strip()
    prefix = _ANSWER_PREFIX.match(text)
    if prefix:
        # "A: (B)" is a few-shot answer prefix, not option A, when what follows is an answer.
        choice = _read_choice(text[prefix.end() :], record)
        if choice is not None:
            return choice
    return _read_choice(text, record)


def _read_choice(text: str, record: QuestionRecord) -> str | None:
    return (
        _choice_at_start(text, record)
        or _stated_choice(text, record)
        or _sole_paren_label(text, record)
        or _sole_option_text(text, record)
    )


def _choice_at_start(text: str, record: QuestionRecord) -> str | None:
    return _label_at_start(text, record) or _option_at_start(text, record)


def _label_at_start(text: str, record: QuestionRecord) -> str | None:
    match = _LEADING_LABEL.match(text)
    if match is None:
        return None
    letter = next(group for group in match.groups() if group).upper()
    label = f"({letter})"
    if label not in record.labels:
        return None
    if match.group("spaced") and letter in _WORD_LETTERS:
        rest = text[match.end() :].lstrip()
        if not (_VERDICT.match(rest) or _option_at_start(rest, record) == label):
            return None
    return label


def _option_at_start(text: str, record: QuestionRecord) -> str | None:
    folded = fold_text(text)
    found = [
        (len(option), label)
        for label, option in zip(record.labels, map(fold_text, record.options), strict=True)
        if option and _starts_with_phrase(folded, option)
    ]
    return max(found)[1] if found else None


def _starts_with_phrase(text: str, phrase: str) -> bool:
    if not text.startswith(phrase):
        return False
    return len(text) == len(phrase) or not text[len(phrase)].isalnum()


def _stated_choice(text: str, record: QuestionRecord) -> str | None:
    for marker in _ANSWER_MARKER.finditer(text):
        choice = _choice_at_start(text[marker.end() :], record)
        if choice is not None:
            return choice
    return None


def _sole_paren_label(text: str, record: QuestionRecord) -> str | None:
    labels = {f"({letter.upper()})" for letter in _PAREN_LABEL.findall(text)}
    if len(labels) == 1 and labels <= set(record.labels):
        return labels.pop()
    return None


def _sole_option_text(text: str, record: QuestionRecord) -> str | None:
    folded = fold_text(text)
    options = dict(zip(record.labels, map(fold_text, record.options), strict=True))
    found = {label: option for label, option in options.items() if contains_phrase(folded, option)}
    # An option found only as part of a longer one found too ("the man" in "the man's wife").
    chosen = [
        label
        for label, option in found.items()
        if not any(option != other and option in other for other in found.values())
    ]
    return chosen[0] if len(chosen) == 1 else None


def _canonical_label(text: str) -> str:
    match = re.fullmatch(r"\(?\s*([A-Za-z])\s*\)?\.?", text.strip())
    return f"({match.group(1).upper()})" if match else text.strip()


# --- text folding shared with the study-assistant checks -----------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def fold_text(text: str) -> str:
    """Lowercase, straight quotes, single spaces: the form texts are compared in."""
    return " ".join(text.translate(_APOSTROPHES).lower().split())


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words (both already folded)."""
    if not phrase:
        return False
    pattern = r"(?<!\w)" + re.escape(phrase) + r"(?!\w)"
    return re.search(pattern, text) is not None


# --- free form -------------------------------------------------------------------------------

_STATED_FREE_FORM = re.compile(
    r"\banswer\s*(?:(?:is|would be|should be)\s*:?|[:=])\s*(?P<value>.+)", re.I
)
_SENTENCE_END = re.compile(r"\.\s|\n")
VERDICTS = frozenset({"true", "false", "yes", "no", "valid", "invalid"})
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
NUMBER_UNITS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
)
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER_WORD = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?:[- ](?P<unit>{'|'.join(NUMBER_UNITS[1:10])}))?"
    rf"|(?P<small>{'|'.join(NUMBER_UNITS)}))\b",
    re.I,
)


def normalize_answer(text: str) -> str:
    """The form free-form answers are compared in.

    Lowercase, single spaces, no surrounding quotes, no trailing period; numbers canonical
    ("8.0", "+8", "eight" -> "8"; "1,000" -> "1000"); a bracket sequence without spaces
    (")]}" == ") ] }"); a comma-separated word list as a space-separated one.
    """
    value = fold_text(text).strip("\"'` ").rstrip(".!").strip("\"'` ")
    if value and set(value) <= set("()[]{}<> "):
        return value.replace(" ", "")
    number = _canonical_number(value)
    if number is not None:
        return number
    if re.fullmatch(r"[\w'&-]+(?:\s*,\s*[\w'&-]+)+", value):
        return " ".join(part.strip() for part in value.split(","))
    return value


def _canonical_number(text: str) -> str | None:
    if _NUMBER.fullmatch(text):
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:
            return None
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f")
    word = _NUMBER_WORD.fullmatch(text)
    return str(_word_value(word)) if word else None


def _word_value(match: re.Match[str]) -> int:
    if match.group("small"):
        return NUMBER_UNITS.index(match.group("small").lower())
    tens = (_TENS.index(match.group("tens").lower()) + 2) * 10
    unit = match.group("unit")
    return tens + (NUMBER_UNITS.index(unit.lower()) if unit else 0)


def _free_form_answer(output: str, target: str) -> str | None:
    head = _free_form_head(output)
    if not head:
        return None
    answer = normalize_answer(head)
    expected = normalize_answer(target)
    if _canonical_number(expected) is not None and _canonical_number(answer) is None:
        return _sole_number(head) or answer
    if expected in VERDICTS and answer not in VERDICTS:
        first_word = re.split(r"[\s,.;:!]", answer, maxsplit=1)[0]
        return first_word if first_word in VERDICTS else answer
    return answer


def _free_form_head(output: str) -> str:
    text = _MARKUP.sub("", output).strip()
    text = _ANSWER_PREFIX.sub("", text, count=1) if _ANSWER_PREFIX.match(text) else text
    stated = _STATED_FREE_FORM.search(text)
    if stated:
        text = stated.group("value")
        return _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _sole_number(text: str) -> str | None:
    tokens = [match.group() for match in _NUMBER.finditer(text)]
    tokens += [match.group() for match in _NUMBER_WORD.finditer(text)]
    numbers = {_canonical_number(token.lower()) for token in tokens}
    return numbers.pop() if len(numbers) == 1 else None
