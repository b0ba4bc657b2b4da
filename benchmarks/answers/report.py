"""The answer benchmark's report: ``answers.md`` (tables and misses) and ``answers.json``."""

from __future__ import annotations

import json
from pathlib import Path

TARGETS = {
    "answerable_correct": 0.8,
    "near_miss_abstained": 0.8,
    "out_of_corpus_abstained": 0.8,
    "abstention_recall": 0.8,
}
"""The realistic corpus's targets (offline): the issue's "≥ 80% of near-miss and out-of-corpus
questions abstained" is read both apart and together (``abstention_recall``)."""
TARGET_LABELS = {"abstention_recall": "near miss and out of corpus together, abstained"}

COLUMNS = (
    ("questions", "questions"),
    ("answerable_correct", "answerable correct"),
    ("answerable_abstained", "answerable abstained"),
    ("near_miss_abstained", "near-miss abstained"),
    ("out_of_corpus_abstained", "out-of-corpus abstained"),
    ("abstention_precision", "abstention precision"),
    ("abstention_recall", "abstention recall"),
    ("citation_precision", "citation precision"),
)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown(results: list[dict], command: str) -> str:
    """The report: one row per set, the route mix, the targets and the questions missed."""
    lines = [
        "# Answer quality",
        "",
        f"`{command}`, mode **{', '.join(sorted({r['mode'] for r in results}))}**. *answerable "
        "correct*: the answer is not an abstention and contains a reference answer "
        "(SQuAD-normalised). *abstention precision*: abstentions on questions the corpus cannot "
        "answer / all abstentions; *recall*: abstentions on those questions / those questions. "
        "*citation precision*: citations whose passage holds the answer (XQuAD), is a "
        "supporting passage (HotpotQA) or the gold passage (the held-out near-miss sets: "
        "`xquad-nearmiss`, `belebele-ko`, where *correct* means citing it), or is the gold "
        "file (realistic) / all citations of the answers given. Near-miss sets: "
        "`arag/evaluation/splits.py`; thresholds fitted on their other halves: "
        "[abstention.md](abstention.md).",
        "",
        "| set | " + " | ".join(label for _, label in COLUMNS) + " | routes | seconds |",
        "|---|" + "---|" * (len(COLUMNS) + 2),
    ]
    for r in results:
        s = r["summary"]
        routes = ", ".join(f"{k} {v}" for k, v in s["routes"].items())
        cells = " | ".join(_cell(s.get(key)) for key, _ in COLUMNS)
        lines.append(f"| {r['set']} | {cells} | {routes} | {r['seconds']} |")
    for r in results:
        if r["set"] == "realistic":
            lines += _realistic(r)
    return "\n".join(lines) + "\n"


def _realistic(result: dict) -> list[str]:
    """The targets of the realistic corpus and the questions it got wrong."""
    summary = result["summary"]
    lines = ["", "Targets on the realistic corpus (offline):", ""]
    for key, target in TARGETS.items():
        value = summary.get(key)
        verdict = "met" if value is not None and value >= target else "not met"
        lines.append(
            f"- {TARGET_LABELS.get(key, key.replace('_', ' '))}: {_cell(value)} "
            f"(target ≥ {target:.2f}, {verdict})"
        )
    if korean := summary.get("korean"):
        lines.append(
            f"- Korean questions ({korean['questions']}): answerable correct "
            f"{_cell(korean['answerable_correct'])}, unanswerable abstained "
            f"{_cell(korean['unanswerable_abstained'])}"
        )
    lines += ["", "Realistic questions not handled as they should be:", ""]
    lines += ["| id | kind | question | route | answer |", "|---|---|---|---|---|"]
    for row in result["rows"]:
        answerable = row["kind"] == "answerable"
        if (answerable and not row["correct"]) or (
            not answerable and row["route"] != "insufficient"
        ):
            answer = " ".join(row["answer"].split())[:160].replace("|", "\\|")
            cells = [row["id"], row["kind"], row["question"], row["route"], answer]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def write(results: list[dict], out_dir: Path, command: str) -> tuple[Path, Path]:
    """Write ``answers.md`` and ``answers.json`` into ``out_dir``; their paths.

    ``answers.json`` has every question's row for sets of up to :data:`ROWS_KEPT` questions,
    and the ids of the answerable questions missed for larger ones.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "answers.md", out_dir / "answers.json"
    md.write_text(markdown(results, command), encoding="utf-8")
    kept = [_compact(r) for r in results]
    js.write_text(
        json.dumps({"command": command, "results": kept}, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return md, js


ROWS_KEPT = 200
"""Sets with more questions keep only the ids of the questions missed in ``answers.json``."""


def _compact(result: dict) -> dict:
    if len(result["rows"]) <= ROWS_KEPT:
        return result
    missed = [r["id"] for r in result["rows"] if r["kind"] == "answerable" and not r["correct"]]
    return {**{k: v for k, v in result.items() if k != "rows"}, "missed": missed}


def figures(results: list[dict]) -> dict:
    """The summary of every set, keyed by set name: the last stdout line."""
    return {r["set"]: {"mode": r["mode"], **r["summary"]} for r in results}
