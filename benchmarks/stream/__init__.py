"""Time to first token on ``/v1``: the answer streams as it is written, and only once checked.

``make bench-stream`` runs ``arag serve`` against the streaming LLM stub
(:mod:`benchmarks.serve.llm_stub`: 500 ms per call, then 80 ms per token) and asks the sample
questions with the official ``openai`` client, streamed and not, in three scenarios:

* ``happy``: every draft is grounded;
* ``rejected_opening``: the first draft opens with a wrong claim, which the answer check
  rejects; the second draft is the answer;
* ``rejected_middle``: the first draft's wrong claim comes after its first sentence.

For each request it records the time to the first content token, the total time, and whether
any text of the wrong claim reached the client. Before this design a stream sent the answer
only when the turn had finished, so the non-streamed total is that design's time to first
token. The reference for the happy path is the time to grade plus write the first sentence:
the stub's grading call (its base latency) plus the time its answer's first sentence was
complete, which the stub reports.
"""
