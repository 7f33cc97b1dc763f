"""A synthetic news archive with copies of stories, for measuring story grouping (#23, docs/news.md).

No copy of the BBC News set is on this machine or in the package registries, so this builds an
archive that has what the issue describes in it: `base` articles (scripts/bench_scale.py's
generator: sentences of the repository's articles recombined, names swapped, numbers perturbed,
so unrelated articles share sentences as wire quotes do), and then

- exact copies: the same text under another outlet (`EXACT` pairs; a tenth of them byte-identical
  files in another folder);
- edited copies of one story, as wire copy reaches several outlets: a new headline, then `light`
  (one sentence replaced, one cut, a sign-off line added), `medium` (three sentences replaced, a
  paragraph moved, one cut) or `heavy` (a third of the sentences replaced, the last paragraph cut);
- follow-ups: new articles that quote one paragraph of an earlier one: another story, not a copy.

Every file's true story is known (`Archive.story`), so pairs can be scored. Deterministic per seed.

    python scripts/news_archive.py OUT_FOLDER --base 1000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale

EXACT = 100
EDITED = {"light": 24, "medium": 24, "heavy": 24}  # stories copied with each level of editing
FOLLOW_UPS = 40
SIGN_OFFS = ("Reporting by {a}; editing by {b}.", "Additional reporting by {a}.", "({a} contributed to this report.)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")


@dataclass
class Archive:
    folder: Path
    story: dict[str, str] = field(default_factory=dict)  # doc id -> true story
    kind: dict[str, str] = field(default_factory=dict)  # doc id -> "base", "exact", "light" …, "follow-up"
    copy_of: dict[str, str] = field(default_factory=dict)  # doc id of a copy or follow-up -> its original
    byte_identical: list[tuple[str, str]] = field(default_factory=list)  # pairs whose article text is identical

    def pairs(self) -> set[tuple[str, str]]:
        """Every pair of files of one story."""
        by_story: dict[str, list[str]] = {}
        for doc_id, story in self.story.items():
            by_story.setdefault(story, []).append(doc_id)
        return {(a, b) for ids in by_story.values() for i, a in enumerate(sorted(ids)) for b in sorted(ids)[i + 1 :]}


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE.split(paragraph) if s.strip()]


def edited(body: str, level: str, rng: random.Random, pool: tuple[str, ...]) -> str:
    """`body` edited as a copy desk would, more or less heavily."""
    paragraphs = [_sentences(p) for p in body.split("\n\n")]
    flat = [(p, s) for p, sentences in enumerate(paragraphs) for s in range(len(sentences))]
    replaced = {"light": 1, "medium": 3, "heavy": max(3, len(flat) // 3)}[level]
    for p, s in rng.sample(flat[1:], min(replaced, len(flat) - 1)):  # the lead sentence stays
        paragraphs[p][s] = bench_scale._varied(rng.choice(pool), rng)
    if level in ("light", "medium"):
        p = rng.randrange(len(paragraphs))
        if len(paragraphs[p]) > 1:
            paragraphs[p].pop(rng.randrange(1, len(paragraphs[p])))
    if level == "medium" and len(paragraphs) > 2:
        moved = paragraphs.pop(rng.randrange(1, len(paragraphs)))
        paragraphs.insert(rng.randrange(1, len(paragraphs) + 1), moved)
    if level == "heavy" and len(paragraphs) > 2:
        paragraphs.pop()
    text = "\n\n".join(" ".join(p) for p in paragraphs if p)
    if level == "light":
        names = rng.sample(bench_scale.AUTHORS, 2)
        text += "\n\n" + rng.choice(SIGN_OFFS).format(a=names[0], b=names[1])
    return text


def build(folder: Path, base: int = 1000, seed: int = 0) -> Archive:
    """Write the archive into `folder` and return what is in it."""
    archive = Archive(folder)
    rng = random.Random(f"news:{seed}")
    pool = bench_scale.sentence_pool(seed)

    def write(doc_id: str, article: bench_scale.Article, story: str, kind: str) -> None:
        path = folder / doc_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article.markdown(), encoding="utf-8")
        archive.story[doc_id], archive.kind[doc_id] = story, kind

    originals = [bench_scale.make_article(i, seed) for i in range(base)]
    for i, article in enumerate(originals):
        write(f"{article.source.lower().replace(' ', '-')}/{article.name}", article, f"s{i}", "base")
    ids = list(archive.story)
    n = 0
    for i in range(EXACT):
        other = rng.choice([o for o in bench_scale.OUTLETS if o != originals[i].source])
        if i % 10 == 0:  # the very same file, copied into another folder
            copy, doc_id = originals[i], f"copied/{originals[i].name}"
        else:
            copy = replace(originals[i], source=other, url=f"https://{other.lower().replace(' ', '')}.example/{i}")
            doc_id = f"wire/{other.lower().replace(' ', '-')}/{originals[i].name}"
        write(doc_id, copy, f"s{i}", "exact")
        archive.copy_of[doc_id] = ids[i]
        archive.byte_identical.append((ids[i], doc_id))
    n = EXACT
    for level, count in EDITED.items():
        for i in range(n, n + count):
            other = rng.choice([o for o in bench_scale.OUTLETS if o != originals[i].source])
            headline = f"{rng.choice(('Update:', 'Analysis:', 'Exclusive:', ''))} {originals[i].title} as talks go on"
            copy = replace(originals[i], source=other, title=headline.strip(),
                           body=edited(originals[i].body, level, rng, pool))
            doc_id = f"wire/{other.lower().replace(' ', '-')}/{level}-{originals[i].name}"
            write(doc_id, copy, f"s{i}", level)
            archive.copy_of[doc_id] = ids[i]
        n += count
    for j in range(FOLLOW_UPS):
        i = n + j
        later = bench_scale.make_article(base + j, seed)
        quoted = rng.choice(originals[i].body.split("\n\n"))
        parts = later.body.split("\n\n")
        parts.insert(rng.randrange(1, len(parts) + 1), quoted)
        doc_id = f"follow-ups/{later.name}"
        write(doc_id, replace(later, body="\n\n".join(parts)), f"f{j}", "follow-up")
        archive.copy_of[doc_id] = ids[i]
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--base", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    archive = build(args.folder, args.base, args.seed)
    kinds: dict[str, int] = {}
    for kind in archive.kind.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    print(json.dumps({"files": len(archive.story), "kinds": kinds, "pairs_of_one_story": len(archive.pairs())}))


if __name__ == "__main__":
    main()
