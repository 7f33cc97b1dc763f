"""Ask the generator a narrow question: does this evidence sentence say what this claim says?

The checker (grounding.py) finds, for each sentence of a reply, the passage sentence(s) that hold
most of its words. Sharing words is not saying the same thing: "Tokayev left Japan on December 18"
shares nearly every word with "On December 18, President Tokayev held talks with Emperor Naruhito",
and "the Kazakh leader invoked the teachings" says what "Tokayev cited the teachings" says with other
words. So the generator itself is asked, one claim against one piece of evidence, and its answer is
read as a probability: P("yes") / (P("yes") + P("no")) over its first token
(`Generator.yes_probability`). No text is generated, so a judgement costs one short prompt.

The judge's messages begin with the answering prompt's own instructions: llama.cpp keeps what it
has read of a prompt's beginning, and a different beginning here would make the next question
re-read its instructions (about a second on two cores).

Deliberately not here: which sentence is the evidence, or what probability is enough (grounding.py).

"""

from __future__ import annotations

from collections import OrderedDict

from rag.generation import Generator, Message
from rag.prompting import SYSTEM_PROMPT

QUESTION = (
    "Text: {evidence}\n\n"
    "Statement: {claim}\n\n"
    "Does the text say what the statement says? Answer yes or no."
)


def judge_messages(evidence: str, claim: str) -> list[Message]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": QUESTION.format(evidence=" ".join(evidence.split()), claim=claim.strip())},
    ]


class Judge:
    """`judge(evidence, claim)` → probability that the evidence says the claim, or None when the
    generator cannot tell (a server that gives no log-probabilities). Judgements are remembered:
    the same claim against the same evidence is asked once per process."""

    def __init__(self, generator: Generator, remember: int = 4096) -> None:
        self.generator = generator
        self._remember = remember
        self._seen: OrderedDict[tuple[str, str], float | None] = OrderedDict()
        self.asked = 0  # judgements computed (not remembered)

    def __call__(self, evidence: str, claim: str) -> float | None:
        key = (evidence, claim)
        if key in self._seen:
            self._seen.move_to_end(key)
            return self._seen[key]
        ask = getattr(self.generator, "yes_probability", None)  # a generator of another make may not judge
        probability = ask(judge_messages(evidence, claim)) if ask else None
        self.asked += 1
        self._seen[key] = probability
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return probability
