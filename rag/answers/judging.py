"""Ask the generator a narrow question: does this evidence sentence say what this claim says?

The checker (checking.py) finds, for each sentence of a reply, the passage sentence(s) that hold
most of its words. Sharing words is not saying the same thing: "Tokayev left Japan on December 18"
shares nearly every word with "On December 18, President Tokayev held talks with Emperor Naruhito",
and "the Kazakh leader invoked the teachings" says what "Tokayev cited the teachings" says with other
words. So the generator itself is asked, one claim against one piece of evidence, and its answer is
read as a probability: P("yes") / (P("yes") + P("no")) over its first token
(`Generator.yes_probability`). No text is generated, so a judgement costs one short prompt.

The judge's messages begin with the answering prompt's own instructions: llama.cpp keeps what it
has read of a prompt's beginning, and a different beginning here would make the next question
re-read its instructions (about a second on two cores).

Deliberately not here: which sentence is the evidence, or what probability is enough (checking.py).

"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from rag.answers.prompting import SYSTEM_PROMPT
from rag.models.generation import Generator, Message

CLAIM = "Text: {evidence}\n\nStatement: {claim}\n\nDoes the text say what the statement says? Answer yes or no."
# With the question it answers, a claim is judged as an answer: true of its evidence *and* answering
# the question ("Luther's last statement was in German" is true, and does not say which portion was).
ANSWER = (
    "Question: {question}\n\nText: {evidence}\n\nAnswer: {claim}\n\n"
    "Does the text show that this answer to the question is right? Answer yes or no."
)


# Without a claim: does this sentence hold the answer? Asked before a sentence is quoted as the answer.
ANSWERS = "Question: {question}\n\nText: {evidence}\n\nDoes the text answer the question? Answer yes or no."


def judge_messages(evidence: str, claim: str, question: str | None = None) -> list[Message]:
    evidence = " ".join(evidence.split())
    if question:
        content = ANSWER.format(question=question.strip(), evidence=evidence, claim=claim.strip())
    else:
        content = CLAIM.format(evidence=evidence, claim=claim.strip())
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]


class Judging(Protocol):
    """What the checker asks of a judge (`Judge` below, or a scripted one in tests)."""

    def __call__(self, evidence: str, claim: str, question: str | None = None) -> float | None: ...

    def answers(self, evidence: str, question: str) -> float | None: ...


class Judge:
    """`judge(evidence, claim)` → probability that the evidence says the claim, or None when the
    generator cannot tell (a server that gives no log-probabilities); `judge(evidence, claim,
    question)` → probability that the claim, as an answer to the question, is right by the evidence.
    Judgements are remembered: the same one is asked once per process."""

    def __init__(self, generator: Generator, remember: int = 4096) -> None:
        self.generator = generator
        self._remember = remember
        self._seen: OrderedDict[tuple[str, ...], float | None] = OrderedDict()
        self.asked = 0  # judgements computed (not remembered)

    def answers(self, evidence: str, question: str) -> float | None:
        """Probability that `evidence` holds the answer to `question` (None: this judge cannot tell)."""
        return self._ask(("answers", evidence, question), [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": ANSWERS.format(question=question.strip(), evidence=" ".join(evidence.split()))},
        ])

    def __call__(self, evidence: str, claim: str, question: str | None = None) -> float | None:
        key = (evidence, claim, question) if question else (evidence, claim)
        return self._ask(key, judge_messages(evidence, claim, question))

    def _ask(self, key: tuple[str, ...], messages: list[Message]) -> float | None:
        if key in self._seen:
            self._seen.move_to_end(key)
            return self._seen[key]
        ask = getattr(self.generator, "yes_probability", None)  # a generator of another make may not judge
        probability = ask(messages) if ask else None
        self.asked += 1
        self._seen[key] = probability
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return probability
