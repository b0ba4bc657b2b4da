"""Every path through the graph with scripted chat models: routes, LLM calls, citations, bounds."""

from __future__ import annotations

import httpx
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.node_chat_model import NodeScriptedChatModel
from tests.runs import invoke, stream

Q = "What is the capital of France?"
GOOD = {"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}


def retrievals(index) -> list[str]:
    """The index's searches without multi-hop expansions (a query + the names a hit mentions)."""
    searched: list[str] = []
    for query in index.searches:
        if not any(query.startswith(earlier + " ") for earlier in searched):
            searched.append(query)
    return searched


def run(model, index, embeddings, question=Q, ctx=None, **kw):
    graph = build_graph(chat_model=model, index=index, embeddings=embeddings, **kw)
    return invoke(graph, {"messages": [HumanMessage(question)]}, context=ctx or Context())


def nodes(result):
    return [s["node"] for s in result["path"]]


def step_of(result, node):
    return next(s for s in result["path"] if s["node"] == node)


def steps_by_node(graph, question):
    """Superstep number of every node that ran (from the debug stream)."""
    events = stream(
        graph, {"messages": [HumanMessage(question)]}, context=Context(), stream_mode="debug"
    )
    return {e["payload"]["name"]: e["step"] for e in events if e["type"] == "task"}


def test_happy_retrieval_path_makes_three_llm_calls_and_cites(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "names the capital"}],
            "generate_answer": ["Paris is the capital of France [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    assert model.nodes_called == ["grade_documents", "generate_answer", "check_answer"]
    assert result["route"] == "retrieval"
    assert result["citations"] == [
        {"n": 1, "id": "france#0", "title": "France", "source": "france.md"}
    ]
    assert "[1] France — france.md" in result["messages"][-1].content
    assert result["messages"][-1].additional_kwargs["citations"][0]["id"] == "france#0"
    assert result["flags"] == []
    # The strong corpus probe chose retrieval without asking the model; its hits were reused.
    confidence = step_of(result, "check_confidence")
    assert confidence["decision"] == "retrieve" and "strongly" in confidence["reason"]
    assert retrievals(static_index) == [Q]


def test_confident_closed_book_is_exactly_one_llm_call(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "check_confidence": [
                {"answer": "Water boils at 100 °C at sea level.", "confidence": 0.97}
            ],
        }
    )
    # A model calibrated to trust its stated confidence (the default trusts none: README).
    result = run(
        model,
        static_index,
        embeddings,
        question="At what temperature does water boil?",
        ctx=Context(verbalized_confidence_high=0.9),
    )
    assert model.nodes_called == ["check_confidence"]
    assert result["route"] == "closed_book"
    assert result["answer"].startswith("Water boils")
    assert nodes(result) == [
        "condense_question",
        "probe_corpus",  # same step as translate_question; both entries land in node-name order
        "translate_question",
        "check_confidence",
        "respond",
    ]
    assert result["citations"] == []


def test_probe_runs_next_to_translation_only_when_nothing_needs_translating(
    static_index, embeddings
):
    model = NodeScriptedChatModel(
        replies={
            "translate_question": [Q],
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris [1]."],
            "check_answer": [GOOD],
        }
    )
    graph = build_graph(chat_model=model, index=static_index, embeddings=embeddings)
    english = steps_by_node(graph, Q)
    assert english["probe_corpus"] == english["translate_question"]
    assert english["check_confidence"] == english["probe_corpus"] + 1
    korean_question = "프랑스의 수도는 어디인가요?"
    korean = steps_by_node(graph, korean_question)
    # The probe must search with the translation: an English corpus does not match Korean text.
    # The question as written is searched too, to tell a lost translation from a good one.
    assert korean["probe_corpus"] == korean["translate_question"] + 1
    assert retrievals(static_index) == [Q, Q, korean_question]
    assert model.nodes_called.count("translate_question") == 1


def test_unsure_model_retrieves_and_falls_back_to_its_candidate(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            # Between the verbalized thresholds (0.7 and 1.01 by default): unsure.
            "check_confidence": [{"answer": "Probably 42.", "confidence": 0.8}],
            "grade_documents": [{"relevant": [], "reason": "off topic"}],
            "rewrite_query": [{"queries": ["meaning of life number"]}],
        }
    )
    result = run(model, static_index, embeddings, question="What is the answer to everything?")
    assert result["route"] == "closed_book"
    assert result["answer"] == "Probably 42."
    assert "unverified_closed_book" in result["flags"]
    assert "no document confirms it" in result["messages"][-1].content
    assert model.nodes_called.count("rewrite_query") == 2  # max_rewrites


def test_rewrite_then_relevant(static_index, embeddings):
    static_index.hits["capital city of France"] = [static_index.hits[Q][0]]
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [
                {"relevant": [], "reason": "no"},
                {"relevant": [1], "reason": "yes"},
            ],
            "rewrite_query": [{"queries": ["capital city of France"]}],
            "generate_answer": ["Paris [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    assert nodes(result).count("rewrite_query") == 1
    assert "capital city of France" in static_index.searches
    assert result["route"] == "retrieval" and result["citations"][0]["id"] == "france#0"


def test_ungrounded_first_draft_is_regenerated_with_feedback(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1, 2], "reason": "yes"}],
            "generate_answer": ["Paris has 20 million people [1].", "Paris is the capital [1]."],
            "check_answer": [
                {
                    "grounded": False,
                    "useful": True,
                    "unsupported": ["20 million"],
                    "reason": "population",
                },
                GOOD,
            ],
        }
    )
    result = run(model, static_index, embeddings)
    assert model.nodes_called.count("generate_answer") == 2
    second_prompt = model.log[model.nodes_called.index("generate_answer", 2)]["messages"][0].content
    assert "20 million" in second_prompt  # the checker's feedback reached the regeneration
    assert result["answer"] == "Paris is the capital [1]."
    assert "not_grounded" not in result["flags"]


def test_adversarial_grader_always_irrelevant_ends_insufficient(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [], "reason": "never"}],
            "rewrite_query": [{"queries": ["another try"]}],
        }
    )
    graph = build_graph(chat_model=model, index=static_index, embeddings=embeddings)
    result = invoke(
        graph, {"messages": [HumanMessage(Q)]}, {"recursion_limit": 25}, context=Context()
    )
    assert result["route"] == "insufficient"
    assert "insufficient" in result["flags"] and "web_search_not_configured" in result["flags"]
    assert model.nodes_called.count("rewrite_query") == 2
    assert model.nodes_called.count("grade_documents") == 3


def test_adversarial_checker_always_ungrounded_ends_flagged(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris [1]."],
            "check_answer": [
                {"grounded": False, "useful": False, "unsupported": ["all"], "reason": "no"}
            ],
        }
    )
    graph = build_graph(chat_model=model, index=static_index, embeddings=embeddings)
    result = invoke(
        graph, {"messages": [HumanMessage(Q)]}, {"recursion_limit": 25}, context=Context()
    )
    assert model.nodes_called.count("generate_answer") == 2  # max_generations
    assert "not_grounded" in result["flags"]
    assert "could not be fully verified" in result["messages"][-1].content


def test_checker_never_useful_is_bounded(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris [1]."],
            "rewrite_query": [{"queries": [Q]}],
            "check_answer": [
                {"grounded": True, "useful": False, "unsupported": [], "reason": "vague"}
            ],
        }
    )
    ctx = Context(max_rewrites=3, max_generations=3)
    graph = build_graph(chat_model=model, index=static_index, embeddings=embeddings)
    result = invoke(graph, {"messages": [HumanMessage(Q)]}, {"recursion_limit": 40}, context=ctx)
    assert model.nodes_called.count("generate_answer") == 3
    assert "not_useful" in result["flags"]


def test_korean_question_is_translated_and_answered_in_korean(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "translate_question": [Q],
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["프랑스의 수도는 파리입니다 [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings, question="프랑스의 수도는 어디인가요?")
    assert model.nodes_called == [
        "translate_question",
        "grade_documents",
        "generate_answer",
        "check_answer",
    ]
    # The translation is searched; the question as written only to compare (no doubt here).
    assert retrievals(static_index) == [Q, "프랑스의 수도는 어디인가요?"]
    assert "translation_doubtful" not in result["flags"]
    assert "Korean" in model.log[2]["messages"][0].content  # answer prompt asks for Korean
    assert result["answer"].startswith("프랑스의 수도는")
    assert result["citations"][0]["id"] == "france#0"


def test_english_over_english_corpus_costs_no_translation_call(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    assert "translate_question" not in model.nodes_called
    assert step_of(result, "translate_question")["decision"] == "not_needed"


def test_groq_style_malformed_outputs_are_repaired_or_fall_back_visibly(static_index, embeddings):
    prose_args = 'Sure! Here you go: {"relevant": ["1"], "reason": "mentions Paris",}'
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [
                AIMessage(
                    "",
                    invalid_tool_calls=[
                        {
                            "name": "DocumentGrades",
                            "args": prose_args,
                            "id": "c1",
                            "error": "bad json",
                            "type": "invalid_tool_call",
                        }
                    ],
                )
            ],
            "generate_answer": ["Paris is the capital and largest city of France [1]."],
            "check_answer": [AIMessage("I think it is fine?")],
        }
    )
    result = run(model, static_index, embeddings)
    assert result["citations"][0]["id"] == "france#0"  # grading repaired from prose
    assert "check_fallback" in result["flags"]  # checker garbage → visible sentence check
    assert model.nodes_called.count("check_answer") == 3  # 1 call + 2 bounded retries
    assert result["path"][-2]["reason"].startswith("unusable checker output; sentence check")


def test_provider_failure_in_generation_degrades_to_extractive(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": [httpx.ConnectError("connection refused")],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    assert "llm_error" in result["flags"]
    assert "Paris is the capital and largest city of France [1]." in result["answer"]
    assert "extractive answer" in result["path"][-3]["reason"]


def test_forged_citation_is_caught_without_an_llm_check(static_index, embeddings):
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris [7].", "Paris [1]."],
            "check_answer": [GOOD],
        }
    )
    result = run(model, static_index, embeddings)
    check_steps = [s for s in result["path"] if s["node"] == "check_answer"]
    assert check_steps[0]["decision"] == "not_grounded" and "[7]" in check_steps[0]["reason"]
    assert model.nodes_called.count("check_answer") == 1  # only the second draft needed the LLM
    assert result["citations"][0]["n"] == 1


def test_empty_question_gets_a_clear_reply_and_no_llm_call(static_index, embeddings):
    model = NodeScriptedChatModel(replies={})
    result = run(model, static_index, embeddings, question="   \x00 ")
    assert result["route"] == "invalid_input"
    assert "Please ask a question" in result["messages"][-1].content
    assert model.nodes_called == []


def test_follow_up_turn_is_condensed_from_history(static_index, embeddings):
    static_index.hits["What is the capital of France? What about its largest city?"] = []
    model = NodeScriptedChatModel(
        replies={
            "condense_question": [Q],
            "grade_documents": [{"relevant": [1], "reason": "yes"}],
            "generate_answer": ["Paris [1]."],
            "check_answer": [GOOD],
        }
    )
    graph = build_graph(
        chat_model=model, index=static_index, embeddings=embeddings, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t1"}}
    first = invoke(graph, {"messages": [HumanMessage(Q)]}, config, context=Context())
    assert "condense_question" not in model.nodes_called
    assert first["path"][0]["decision"] == "first_turn"
    second = invoke(
        graph, {"messages": [HumanMessage("And its largest city?")]}, config, context=Context()
    )
    assert model.nodes_called.count("condense_question") == 1
    history = model.log[model.nodes_called.index("condense_question")]["messages"][1].content
    assert Q in history and "Paris [1]." in history
    assert second["path"][0]["decision"] == "standalone"
    assert len(second["messages"]) == 4
    # Per-turn fields were reset: the second turn's path starts afresh.
    assert [s["node"] for s in second["path"]].count("respond") == 1


def test_graph_shape_snapshot(snapshot):
    # syrupy: a changed shape or a missing snapshot fails; review, then run with --snapshot-update.
    assert build_graph(chat_model=None).get_graph().draw_mermaid() == snapshot
