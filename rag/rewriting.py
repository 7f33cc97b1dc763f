"""Turn a follow-up question into one that stands on its own, using the conversation.

"What did they discuss?" after a turn about the December 19 meeting becomes "What did Tokayev and
Tokyo Governor Yuriko Koike discuss?", which retrieval can work with. The generator does the
rewriting, shown one worked example (without it the 0.5B model answered the follow-up, or handed it
back unchanged, for 8 of the question set's 10 follow-ups; with it, for 5). A reply that does not
look like a question, or that hands back the follow-up with its "he" or "they" unresolved, falls
back to the previous question joined with the follow-up, which still carries the names retrieval
needs.

Deliberately not here: deciding whether there is a conversation (the pipeline does), retrieval.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from rag.generation import Generator, Message
from rag.markers import strip_markers

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
    previous = next((m["content"] for m in reversed(turns) if m["role"] == "user"), "")
    log.info("Rewriting gave %r; searching with the previous question joined instead", reply)
    return f"{previous} {question}".strip()
