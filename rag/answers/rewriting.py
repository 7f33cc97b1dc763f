"""Turn a follow-up question into one that stands on its own, using the conversation.

"What did they discuss?" after a turn about the December 19 meeting becomes "What did Tokayev and
Tokyo Governor Yuriko Koike discuss?", which retrieval can work with. The generator does the
rewriting, shown one worked example (without it the 0.5B model answered the follow-up, or handed it
back unchanged, for 8 of the question set's 10 follow-ups; with it, for 5). A reply that does not
look like a question, or that hands back the follow-up with its "he" or "they" unresolved, falls
back to the previous question joined with the follow-up, which still carries the names retrieval
needs.

Only a question that leans on the conversation is rewritten (`depends_on_conversation`): one that
points back with a pronoun or "that", "there", "afterwards", or leaves its subject out ("And the
other one?", "What about Japan?", "Why?"). A new question asked in the middle of a conversation
("Summarize the news about the iPod.") is asked as it is: rewriting it costs seconds before the first
word and can change what it asks.

>>> depends_on_conversation("What did they discuss?"), depends_on_conversation("Summarize the news about Yukos.")
(True, False)
>>> depends_on_conversation("What did Tokayev say about his visit?")  # "his" is Tokayev's
False

Deliberately not here: retrieval.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from rag.answers.markers import strip_markers
from rag.models.generation import Generator, Message

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Rewrite the last question so that it can be understood without the conversation: replace words like "
    "he, she, they, it, that, there with the names and things they refer to. Keep it one short question. "
    "Do not answer it. Reply with the rewritten question only.\n\n"
    # One worked example, on a made-up subject so that nothing of it can leak into a real question.
    "Example:\nConversation:\nUser: Who opened the new bridge in Riverton?\n"
    "Assistant: Mayor Ana Ruiz opened it on May 3.\n"
    "Last question: What did she say there?\n"
    "Rewritten question: What did Mayor Ana Ruiz say at the opening of the new bridge in Riverton?"
)
MAX_TOKENS = 48
# Words that point back into the conversation: a "rewrite" that keeps them unchanged has not resolved them.
_POINTERS = re.compile(r"\b(?:he|she|they|it|its|his|her|their|them|him|that|those|these|this|there)\b", re.IGNORECASE)


# A pronoun stands for something said before unless the question names something first: a name
# ("What did Tokayev say about his visit?") or a noun after a determiner ("Which university has its
# origins …?").
_PERSON = re.compile(r"\b(?:he|she|him|his|her|hers)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?:they|them|their|theirs|it|its)\b", re.IGNORECASE)
_NAME = re.compile(r"(?<!^)\b[A-Z][\w'’-]+")
_NOUN = re.compile(
    r"\b(?i:the|a|an|this|that|these|those|which|what|whose|each|every|many|any)\s+"
    r"(?!(?:did|does|do|was|is|were|are|has|have|had|will|would|can|could|should|may|might|must)\b)[a-z][\w-]{2,}"
)
# Words that always point back: a demonstrative, "there" (not "there is"), "afterwards" …
_POINTER = re.compile(
    r"\b(?:afterwards|afterward|then|meanwhile)\b"
    r"|(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bwere )\bthere\b(?! (?:is|are|was|were|be|been|has|have|had|will|would)\b)"
    r"|\bthe (?:same|others|other ones?|first one|second one|last one)\b|\bwhich ones?\b"
    r"|\bthe (?:former|latter)\b(?! [a-z]+ [a-z])"
    r"|\b(?:this|that|these|those)\b(?= *[?.!]*$)"
    r"|\b(?:before|after|since|during|about|of|from|by|with|did|does|do|was|is|were|are|will|would|when) "
    r"(?:this|that)\b(?! (?:the|a|an)\b)"
    r"|\b(?:this|that) (?:happen|happened|mean|meant|say|said|do|did|go|went|take|took|cost|last|lasted|end|ended|"
    r"start|started|begin|began|change|changed|come|came)\b"
    r"|\b(?:this|these|those) [a-z]",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(
    r"^(?:and|but|also|so|or|then)\b|^(?:what|how) about\b|^what else\b|^(?:why|when|where|how|who|which|"
    r"what|how come|really|anything else|any more|more)\s*[?.!]*$",
    re.IGNORECASE,
)


def depends_on_conversation(question: str) -> bool:
    """Whether the question needs the conversation to be understood (see the module's docstring)."""
    text = " ".join(question.split())
    if _ELLIPSIS.search(text) or len(text.split()) <= 2 or _POINTER.search(text):
        return True
    person = _PERSON.search(text)
    if person and not _NAME.search(text[: person.start()]):
        return True
    pronoun = _PRONOUN.search(text)
    if pronoun is None:
        return False
    before = text[: pronoun.start()]
    return not (_NAME.search(before) or _NOUN.search(before))


def rewrite(question: str, history: Sequence[Message], generator: Generator) -> str:
    turns = list(history)[-4:]
    if not turns:
        return question
    conversation = "\n".join(f"{m['role'].capitalize()}: {strip_markers(m['content'])[:600]}" for m in turns)
    messages: list[Message] = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": f"Conversation:\n{conversation}\n\nLast question: {question}\nRewritten question:"},
    ]
    reply = "".join(generator.stream(messages, MAX_TOKENS)).strip().strip('"“”').strip()
    reply = reply.removeprefix("Rewritten question:").strip()
    first_line = reply.split("\n", 1)[0].strip()
    unresolved = first_line.lower() == question.strip().lower() and _POINTERS.search(question)
    if first_line.endswith("?") and 3 <= len(first_line) <= 3 * len(question) + 200 and not unresolved:
        return first_line
    log.info("Rewriting gave %r; searching with the conversation's names added instead", reply)
    return with_names(question, turns)


def with_names(question: str, turns: Sequence[Message]) -> str:
    """The follow-up with the names of the last turn after it (capitalised words and numbers the
    question lacks), so retrieval looks for what the follow-up asks about who it is about; not the
    whole previous question, which would pull the search back to what was already answered.

    >>> with_names("What did he say about nuclear weapons?", [
    ...     {"role": "user", "content": "Where did Tokayev give a keynote lecture in Tokyo?"},
    ...     {"role": "assistant", "content": "At the United Nations University [1]."}])
    'What did he say about nuclear weapons? (Tokayev, Tokyo, United Nations University)'
    """
    last = " ".join(strip_markers(m["content"]) for m in list(turns)[-2:])
    names: list[str] = []
    for match in re.finditer(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*|\b\d[\d.,]*\b", last):
        name = match.group(0)
        if name.lower() not in question.lower() and name not in names and name.lower() not in ("i", "the"):
            names.append(name)
    return f"{question} ({', '.join(names)})" if names else question
