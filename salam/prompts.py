"""Every prompt salam sends, in one place and versioned.

The study assistant (SA) has two modes. Feedback mode (gathering): it sees a question, the
main model's wrong answer and the true answer, and explains the mistake as a JSON
`{"reason", "guideline"}`. Agent mode (test time): it sees only the question and foresees the
mistake. The examination prompt puts retrieved guidelines and cases in front of a question
and ends with "The correct answer is " for the main model to complete.

The templates are plain text; chat backends apply their chat template themselves.

`PROMPT_VERSION` is stored with every run and every fine-tuning trace. Bump it whenever a
change alters the text any template produces for some input (wording, order, spacing,
headings), since scores and fine-tuned assistants are only comparable under the same
prompts. Changes that produce identical text (refactoring, comments) keep the version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from salam.llm.base import Constraint
from salam.records import QuestionRecord

PROMPT_VERSION = "1"

FEEDBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "minLength": 1},
        "guideline": {"type": "string", "minLength": 1},
    },
    "required": ["reason", "guideline"],
    "additionalProperties": False,
}

# Close to the wording of the paper's imitation-learning data, so that an assistant tuned on
# that data sees the request it was tuned on.
_FEEDBACK_REQUEST = (
    "The model answered {answer}, but the true answer is {target}.\n"
    "Reply with a JSON object with these keys:\n"
    "    reason: explain why the model may have given that answer\n"
    "    guideline: building on the reason, write an instruction to give the model as a "
    "prompt so that it avoids similar mistakes\n"
    "Do not mention the true answer or the content of any specific option in your reply."
)
_AGENT_REQUEST = (
    "The model has not answered yet. Predict the mistake it is most likely to make.\n"
    "Reply with a JSON object with these keys:\n"
    "    reason: explain which mistake the model may make on this question, and why\n"
    "    guideline: building on the reason, write an instruction to give the model as a "
    "prompt so that it avoids that mistake\n"
    "Do not mention the answer or the content of any specific option in your reply."
)
_GUIDELINES_HEADING = "Guidelines from past mistakes:"
_ANSWER_CUE = "\nThe correct answer is "


@dataclass(frozen=True)
class Case:
    """A retrieved past question and its correct answer."""

    question: str
    answer: str


def feedback_prompt(record: QuestionRecord, answer: str) -> str:
    """Feedback mode: explain why `answer` was given where `record.target` is right."""
    request = _FEEDBACK_REQUEST.format(answer=answer.strip(), target=record.target)
    return f"{record.prompt}\n{request}"


def agent_prompt(record: QuestionRecord) -> str:
    """Agent mode: foresee the mistake on a question nobody has answered yet."""
    return f"{record.prompt}\n{_AGENT_REQUEST}"


def exam_prompt(
    record: QuestionRecord,
    *,
    guidelines: Sequence[str] = (),
    cases: Sequence[Case] = (),
) -> str:
    """What the main model completes: retrieved help, then the question, then the answer cue."""
    blocks = []
    if guidelines:
        blocks.append(_numbered_guidelines(guidelines))
    blocks.extend(f"{case.question}{_ANSWER_CUE}{case.answer}" for case in cases)
    context = "\n\n".join(blocks)
    question = f"{record.prompt}{_ANSWER_CUE}"
    return f"{context}\n\n{question}" if context else question


def _numbered_guidelines(guidelines: Sequence[str]) -> str:
    # One line each: a guideline with line breaks would break the numbering.
    lines = [f"{number}. {' '.join(text.split())}" for number, text in enumerate(guidelines, 1)]
    return "\n".join([_GUIDELINES_HEADING, *lines])


def answer_constraint(record: QuestionRecord) -> Constraint | None:
    """The option labels for multiple choice; free-form answers are left open."""
    return Constraint(choices=record.labels) if record.is_multiple_choice else None


def feedback_constraint() -> Constraint:
    return Constraint(json_schema=FEEDBACK_SCHEMA)
