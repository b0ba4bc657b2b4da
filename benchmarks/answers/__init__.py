"""Answer quality: right answers, right citations, and abstaining when the corpus cannot answer.

    python -m benchmarks.answers [--dataset realistic,xquad,hotpotqa] [--limit N] [--out DIR]

Three question sets (:mod:`benchmarks.answers.sets`): XQuAD-en and HotpotQA from the shared
data, and the realistic multi-format corpus of ``benchmarks/data/realistic`` with its questions
(answerable, near-miss and out-of-corpus, some in Korean). Each set runs through the real graph
with ``arag eval``'s runner (:mod:`arag.evaluation.runner`), offline unless the model settings
are in the environment (``ARAG_MODEL``, a provider's API key, ``ARAG_BASE_URL``). Scores are in
:mod:`benchmarks.answers.scoring`; the report is ``answers.md`` and ``answers.json`` in the
output directory, and the last stdout line is the figures as JSON.
"""
