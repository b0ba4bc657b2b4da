"""Retrieval features a user notices: reranking, Korean corpora, multi-hop, contextual
retrieval with its cache, and re-ingest skipping unchanged files."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage

from tests.fakes.scripted_chat_model import ScriptedChatModel
from tools.index.lance import LanceIndex
from tools.index.multihop import bridge_names, expand_search
from tools.index.rerank import NoReranker, load_reranker
from tools.ingest.contextual import ContextCache, ContextStats, contextualize
from tools.ingest.pipeline import ingest


def _index(tmp_path: Path, embeddings, texts: dict[str, str], language: str = "en"):
    index = LanceIndex.open(tmp_path / "idx", embeddings, create=True, language=language)
    docs = [
        Document(page_content=f"{title}\n\n{text}", metadata={"chunk_id": title, "title": title})
        for title, text in texts.items()
    ]
    index.add_documents(docs, ids=list(texts))
    index.optimize()
    return index


PLANETS = {
    "Mars": "Mars is the fourth planet from the Sun, a cold desert world with red dust.",
    "Venus": "Venus is the second planet from the Sun, with a thick toxic atmosphere.",
    "Jupiter": "Jupiter is the fifth planet from the Sun and the largest gas giant.",
}


class ReverseReranker:
    """Puts the fused order upside down, so a test can see the hook was applied."""

    def rerank(self, query, documents, k):
        return list(reversed(documents))[:k]


def test_reranker_reorders_results_and_keeps_calibrated_scores(tmp_path, embeddings):
    index = _index(tmp_path, embeddings, PLANETS)
    plain = index.hybrid_search("Which planet is the red desert world?", k=3)
    assert plain[0].metadata["chunk_id"] == "Mars"
    index.reranker = ReverseReranker()
    reranked = index.hybrid_search("Which planet is the red desert world?", k=3)
    assert [d.metadata["chunk_id"] for d in reranked] == [
        d.metadata["chunk_id"] for d in reversed(plain)
    ]
    assert [d.metadata["rank"] for d in reranked] == [0, 1, 2]
    mars = next(d for d in reranked if d.metadata["chunk_id"] == "Mars")
    assert mars.metadata["score"] == plain[0].metadata["score"]
    index.reranker = NoReranker()
    assert [d.metadata["chunk_id"] for d in index.hybrid_search("red desert", k=3)][0] == "Mars"


def test_load_reranker_specs():
    assert load_reranker("") is None and load_reranker("none") is None
    assert isinstance(load_reranker("tools.index.rerank:NoReranker"), NoReranker)
    with pytest.raises(ValueError, match="package.module:attr"):
        load_reranker("NoReranker")
    with pytest.raises(ValueError, match="Cannot load reranker"):
        load_reranker("tools.index.rerank:Missing")


KOREAN = {
    "아코디언": "아코디언을 연주할 때는 손을 편하게 두고 풀무에 힘을 주어 볼륨을 조절합니다.",
    "김치": "김치는 배추와 고춧가루, 마늘로 담그는 한국의 전통 발효 음식입니다.",
    "한강": "한강은 서울을 가로질러 흐르는 강으로, 여름에는 많은 시민이 공원을 찾습니다.",
}


def test_korean_corpus_uses_ngram_bm25_and_no_dense_weight(tmp_path, embeddings):
    index = _index(tmp_path, embeddings, KOREAN, language="ko")
    # WordLlama is English-only: its cosines between Korean texts are noise.
    assert index.dense_weight("배추로 담그는 음식은?") == 0.0
    top = index.hybrid_search("배추로 담그는 발효 음식은 무엇입니까?", k=3)
    assert top[0].metadata["chunk_id"] == "김치"
    top = index.hybrid_search("아코디언 볼륨은 어떻게 조절합니까?", k=3)
    assert top[0].metadata["chunk_id"] == "아코디언"


INFLECTED = {
    "독서": "그는 주말마다 도서관에서 책을 읽었다.",
    "산책": "저녁을 먹고 그는 강가의 공원을 오래 걸었다.",
    "김치": KOREAN["김치"],
    "한강": KOREAN["한강"],
    "아코디언": KOREAN["아코디언"],
}


def test_korean_bm25_matches_a_question_to_an_inflected_passage(tmp_path, embeddings):
    # No character bigram of these questions occurs in the passage that answers them (책이 vs
    # 책을, 걷는 vs 걸었다); the morphemes ~책 and ~걷 (an irregular verb) do.
    index = _index(tmp_path, embeddings, INFLECTED, language="ko")
    assert index.hybrid_search("책이 어디에 있나요?", k=3)[0].metadata["chunk_id"] == "독서"
    assert index.hybrid_search("누가 걷는가?", k=3)[0].metadata["chunk_id"] == "산책"


def test_english_corpus_keeps_dense_weight_for_english_queries(tmp_path, embeddings):
    index = _index(tmp_path, embeddings, PLANETS)
    assert index.dense_weight("Which planet is red?") > 0
    assert index.dense_weight("어느 행성이 붉은가?") == 0.0


BRIDGE = {
    "Front Row (software)": "Front Row is a discontinued media center application by Apple. "
    "Front Row can be controlled by the Apple Remote or the keyboard function keys.",
    "Apple Remote": "The Apple Remote is a remote control device released by Apple in 2005. "
    "It was originally designed to interact with the Front Row media program.",
    "Siri Remote": "The Siri Remote is a remote control released with the Apple TV in 2015.",
    "Roku": "Roku makes streaming players controlled by a small remote.",
}


def test_bridge_names_skip_question_terms():
    text = BRIDGE["Apple Remote"]
    names = bridge_names(text, "Apple Remote question about a remote")
    assert "Front Row" in names
    assert "Apple Remote" not in names


def test_expand_search_finds_the_bridge_document(tmp_path, embeddings):
    index = _index(tmp_path, embeddings, BRIDGE)
    question = (
        "What other device can control the program the Apple Remote was originally designed "
        "to interact with?"
    )
    ids = [d.metadata["chunk_id"] for d in expand_search(index, question, k=2)]
    assert set(ids) == {"Apple Remote", "Front Row (software)"}


def _reply(text: str) -> AIMessage:
    return AIMessage(content=text)


def test_contextual_cache_prevents_a_second_llm_call(tmp_path):
    cache = ContextCache(tmp_path / "ctx.sqlite")
    chunks = [Document(page_content="Revenue grew 3%.", metadata={"source": "q2.md"})]
    llm = ScriptedChatModel(script=[_reply("From ACME's Q2 2023 report.")])
    first = contextualize(chunks, "ACME Q2 2023 report. Revenue grew 3%.", llm, cache)
    assert first[0].page_content == "From ACME's Q2 2023 report.\n\nRevenue grew 3%."
    assert first[0].metadata["context"] == "From ACME's Q2 2023 report."
    stats = ContextStats()
    again = contextualize(chunks, "ACME Q2 2023 report. Revenue grew 3%.", llm, cache, stats)
    assert again[0].page_content == first[0].page_content
    assert (stats.generated, stats.cached, len(llm.calls)) == (0, 1, 1)


def test_ingest_with_contextual_retrieval_and_cached_reingest(tmp_path, embeddings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text("# ACME Q2\n\nRevenue grew 3% in the quarter.\n")
    data = tmp_path / "data"
    llm = ScriptedChatModel(script=[_reply("ACME's second-quarter 2023 results.")])
    report = ingest([corpus], data, embeddings, contextual=True, chat_model=llm)
    assert report.context.generated == 1 and len(llm.calls) == 1
    index = LanceIndex.open(data, embeddings)
    [hit] = index.hybrid_search("second-quarter results of ACME", k=1)
    assert hit.page_content.startswith("ACME's second-quarter 2023 results.")
    # Rebuild the index from scratch (settings change, lost index): the cache still answers.
    for name in ("record_manager.sqlite", "index_meta.json"):
        (data / name).unlink()
    import shutil

    shutil.rmtree(data / "lancedb")
    silent = ScriptedChatModel(script=[])
    again = ingest([corpus], data, embeddings, contextual=True, chat_model=silent)
    assert (again.context.generated, again.context.cached, len(silent.calls)) == (0, 1, 0)
    assert again.num_added == 1


def test_contextual_without_llm_is_skipped_with_a_message(tmp_path, embeddings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nSome text.\n")
    report = ingest([corpus], tmp_path / "data", embeddings, contextual=True)
    assert report.num_added == 1
    assert "Contextual retrieval skipped: no LLM is configured" in report.summary()


def test_reingest_skips_unchanged_files_before_loading(tmp_path, embeddings, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nAlpha text about apples.\n")
    (corpus / "b.md").write_text("# B\n\nBeta text about bananas.\n")
    data = tmp_path / "data"
    first = ingest([corpus], data, embeddings, cleanup="full")
    assert first.num_added == 2

    import tools.ingest.pipeline as ingest_module

    loaded: list[str] = []
    real_load = ingest_module.load_source
    monkeypatch.setattr(
        ingest_module, "load_source", lambda p: loaded.append(Path(p).name) or real_load(p)
    )
    (corpus / "b.md").write_text("# B\n\nBeta text about blueberries now.\n")
    second = ingest([corpus], data, embeddings, cleanup="full")
    assert loaded == ["b.md"]  # a.md unchanged: not even loaded
    assert (second.files_ok, second.num_added, second.num_deleted) == (2, 1, 1)
    assert second.num_skipped == 1  # a.md's chunk confirmed, so full cleanup keeps it
    index = LanceIndex.open(data, embeddings)
    assert index.count() == 2
    assert index.hybrid_search("apples", k=1)[0].metadata["title"] == "A"


def test_context_reranker_is_applied_to_the_graphs_index(sample_data_dir, embeddings):
    from graph.config import Context
    from graph.services import Services

    spec = "tests.integration.test_retrieval_features:ReverseReranker"
    plain = Services(embeddings=embeddings).open_index(Context(data_dir=str(sample_data_dir)))
    ranked = Services(embeddings=embeddings).open_index(
        Context(data_dir=str(sample_data_dir), reranker=spec)
    )
    assert type(ranked.reranker).__name__ == "ReverseReranker"  # loaded from the spec
    question = "What year did Tesla die?"
    top = [d.metadata["chunk_id"] for d in plain.hybrid_search(question, k=20)]
    assert ranked.hybrid_search(question, k=1)[0].metadata["chunk_id"] == top[-1]
    with pytest.raises(ValueError, match="Cannot load reranker"):
        Services(embeddings=embeddings).open_index(
            Context(data_dir=str(sample_data_dir), reranker="no.such.module:Thing")
        )


def test_the_graphs_search_finds_the_bridge_document_unless_multihop_is_off(
    tmp_path, embeddings, monkeypatch
):
    """The probe and retrieve nodes search through nodes.confidence.search with ctx.multihop."""
    import tools.index.memory_copy as memory_copy
    from tools.index.search import search

    # LanceDB's BM25 misses the bridge document in a plain top 2 of this tiny corpus (the
    # case multi-hop is for); the in-process BM25 of small tables already ranks it second.
    monkeypatch.setattr(memory_copy, "MEMORY_BM25_CHARS", 0)
    monkeypatch.setattr(memory_copy, "BACKGROUND_MEMORY_CHARS", 0)
    index = _index(tmp_path, embeddings, BRIDGE)
    question = (
        "What other device can control the program the Apple Remote was originally designed "
        "to interact with?"
    )
    with_hop = [d["id"] for d in search(index, question, 2, multihop=True)]
    assert with_hop[0] == "Apple Remote" and "Front Row (software)" in with_hop
    plain = [d["id"] for d in search(index, question, 2, multihop=False)]
    assert "Front Row (software)" not in plain


def test_a_failed_keyword_search_is_visible_not_only_logged(
    sample_data_dir, embeddings, monkeypatch
):
    """BM25 failing (LanceDB's phrase-query error) leaves vector search: the user is told."""
    import tools.index.memory_copy as memory_copy
    from arag.turn import run_turn
    from graph.builder import build_graph
    from graph.config import Context
    from tests.runs import run
    from tools.index import open_index

    # BM25 through LanceDB (the small sample corpus would otherwise be scored in process).
    monkeypatch.setattr(memory_copy, "MEMORY_BM25_CHARS", 0)
    monkeypatch.setattr(memory_copy, "BACKGROUND_MEMORY_CHARS", 0)
    index = open_index(str(sample_data_dir), embeddings)
    table = index._table
    real_search = table.search

    def search(query=None, *args, **kwargs):
        if kwargs.get("query_type") == "fts":
            raise RuntimeError("position is not found but required for phrase queries")
        return real_search(query, *args, **kwargs)

    table.search = search
    graph = build_graph(chat_model=None, index=index, embeddings=embeddings)
    ctx = Context(data_dir=str(sample_data_dir), model="offline", web_search="none")
    result = run(run_turn(graph, {"messages": [("user", 'When did "Tesla" die?')]}, context=ctx))
    assert "lexical_search_failed" in result.flags
    assert "1943" in result.answer  # vector search alone still found it
    assert "keyword (BM25) search failed (position is not found" in result.content
    assert "matched by meaning alone" in result.content
