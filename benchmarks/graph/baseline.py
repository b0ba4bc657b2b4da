"""The LangGraph Adaptive RAG / Self-RAG tutorial design, rebuilt as the benchmark's baseline.

Written from the tutorial's description with the same libraries (LangGraph, LangChain prompts,
``with_structured_output``) and the tutorial's prompts, and pointed at our index so both graphs
search the same chunks:

* a router (one LLM call, structured ``RouteQuery``) sends the question to the vectorstore or to
  web search;
* retrieve ``k=4`` documents;
* grade each document separately (one LLM call per document);
* no relevant document: transform (rewrite) the query and retrieve again;
* generate;
* hallucination grader, then answer grader (one LLM call each): not grounded → generate again;
  grounded but not useful → transform the query and retrieve again.

As in the tutorial, the loops have **no bound**: a question the corpus cannot answer loops until
LangGraph's ``recursion_limit`` raises. The benchmark passes ``recursion_limit=25`` (LangGraph's
old default, under which the tutorial was written) only so that it terminates; such a run is
reported as "stopped by the recursion limit", not as an answer. A baseline, not product code.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field

from tools.index.base import HybridIndex
from tools.web_search import WebSearch

K = 4
RECURSION_LIMIT = 25

ROUTER = (
    "You are an expert at routing a user question to a vectorstore or web search. The "
    "vectorstore contains documents related to Nikola Tesla, oxygen, the Amazon rainforest, the "
    "Apollo program, the Black Death and Super Bowl 50. Use the vectorstore for questions on these "
    "topics. Otherwise, use web-search."
)
DOC_GRADER = (
    "You are a grader assessing relevance of a retrieved document to a user question. \n "
    "If the document contains keyword(s) or semantic meaning related to the user question, grade "
    "it as relevant. \n It does not need to be a stringent test. The goal is to filter out "
    "erroneous retrievals. \n Give a binary score 'yes' or 'no' score to indicate whether the "
    "document is relevant to the question."
)
RAG = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\nQuestion: {question} \n"
    "Context: {context} \nAnswer:"
)
HALLUCINATION_GRADER = (
    "You are a grader assessing whether an LLM generation is grounded in / supported by a set of "
    "retrieved facts. \n Give a binary score 'yes' or 'no'. 'Yes' means that the answer is "
    "grounded in / supported by the set of facts."
)
ANSWER_GRADER = (
    "You are a grader assessing whether an answer addresses / resolves a question \n Give a "
    "binary score 'yes' or 'no'. Yes' means that the answer resolves the question."
)
REWRITER = (
    "You a question re-writer that converts an input question to a better version that is "
    "optimized \n for vectorstore retrieval. Look at the input and try to reason about the "
    "underlying semantic intent / meaning."
)


class RouteQuery(BaseModel):
    """Route a user query to the most relevant datasource."""

    datasource: Literal["vectorstore", "web_search"] = Field(
        description="Given a user question choose to route it to web search or a vectorstore."
    )


class GradeDocuments(BaseModel):
    """Binary score for relevance check on retrieved documents."""

    binary_score: str = Field(description="Documents are relevant to the question, 'yes' or 'no'")


class GradeHallucinations(BaseModel):
    """Binary score for hallucination present in generation answer."""

    binary_score: str = Field(description="Answer is grounded in the facts, 'yes' or 'no'")


class GradeAnswer(BaseModel):
    """Binary score to assess answer addresses question."""

    binary_score: str = Field(description="Answer addresses the question, 'yes' or 'no'")


class BaselineState(TypedDict, total=False):
    """The tutorial's graph state."""

    question: str
    """The (possibly rewritten) question."""
    generation: str
    """The latest answer."""
    documents: list[str]
    """Retrieved (and filtered) document texts."""
    route: str
    """Where the router sent the question (added for the report)."""


def _tagged(node: str) -> dict:
    """Config tagging an LLM call with its node, as our graph does (the counting model reads it)."""
    return {"run_name": node, "tags": [f"baseline:{node}"]}


def build_baseline(llm: BaseChatModel, index: HybridIndex, web: WebSearch, *, k: int = K):
    """Compile the tutorial's graph over ``index`` (hybrid search, ``k`` documents) and ``web``."""
    router = ChatPromptTemplate.from_messages(
        [("system", ROUTER), ("human", "{question}")]
    ) | llm.with_structured_output(RouteQuery)
    doc_grader = ChatPromptTemplate.from_messages(
        [
            ("system", DOC_GRADER),
            ("human", "Retrieved document: \n\n {document} \n\n User question: {question}"),
        ]
    ) | llm.with_structured_output(GradeDocuments)
    rag = ChatPromptTemplate.from_messages([("human", RAG)]) | llm | StrOutputParser()
    hallucination_grader = ChatPromptTemplate.from_messages(
        [
            ("system", HALLUCINATION_GRADER),
            ("human", "Set of facts: \n\n {documents} \n\n LLM generation: {generation}"),
        ]
    ) | llm.with_structured_output(GradeHallucinations)
    answer_grader = ChatPromptTemplate.from_messages(
        [
            ("system", ANSWER_GRADER),
            ("human", "User question: \n\n {question} \n\n LLM generation: {generation}"),
        ]
    ) | llm.with_structured_output(GradeAnswer)
    rewriter = (
        ChatPromptTemplate.from_messages(
            [
                ("system", REWRITER),
                (
                    "human",
                    "Here is the initial question: \n\n {question} \n Formulate an improved "
                    "question.",
                ),
            ]
        )
        | llm
        | StrOutputParser()
    )

    def route_question(state: BaselineState) -> str:
        source = router.invoke({"question": state["question"]}, _tagged("route_question"))
        return source.datasource

    def retrieve(state: BaselineState) -> dict:
        docs = index.hybrid_search(state["question"], k=k)
        return {"documents": [d.page_content for d in docs], "route": "vectorstore"}

    def web_search(state: BaselineState) -> dict:
        results = web.search(state["question"], max_results=3)
        return {"documents": ["\n".join(r.content for r in results)], "route": "web_search"}

    def grade_documents(state: BaselineState) -> dict:
        kept = []
        for doc in state["documents"]:  # one LLM call per document, as in the tutorial
            score = doc_grader.invoke(
                {"question": state["question"], "document": doc}, _tagged("grade_document")
            )
            if score.binary_score == "yes":
                kept.append(doc)
        return {"documents": kept}

    def generate(state: BaselineState) -> dict:
        context = "\n\n".join(state["documents"])
        answer = rag.invoke(
            {"context": context, "question": state["question"]}, _tagged("generate")
        )
        return {"generation": answer}

    def transform_query(state: BaselineState) -> dict:
        better = rewriter.invoke({"question": state["question"]}, _tagged("transform_query"))
        return {"question": better}

    def decide_to_generate(state: BaselineState) -> str:
        return "generate" if state["documents"] else "transform_query"

    def grade_generation(state: BaselineState) -> str:
        facts = "\n\n".join(state["documents"])
        grounded = hallucination_grader.invoke(
            {"documents": facts, "generation": state["generation"]}, _tagged("grade_hallucination")
        )
        if grounded.binary_score != "yes":
            return "not supported"
        useful = answer_grader.invoke(
            {"question": state["question"], "generation": state["generation"]},
            _tagged("grade_answer"),
        )
        return "useful" if useful.binary_score == "yes" else "not useful"

    workflow = StateGraph(BaselineState)
    workflow.add_node("web_search", web_search)
    workflow.add_node("retrieve", retrieve)
    workflow.add_node("grade_documents", grade_documents)
    workflow.add_node("generate", generate)
    workflow.add_node("transform_query", transform_query)
    workflow.add_conditional_edges(
        START, route_question, {"web_search": "web_search", "vectorstore": "retrieve"}
    )
    workflow.add_edge("web_search", "generate")
    workflow.add_edge("retrieve", "grade_documents")
    workflow.add_conditional_edges(
        "grade_documents",
        decide_to_generate,
        {"transform_query": "transform_query", "generate": "generate"},
    )
    workflow.add_edge("transform_query", "retrieve")
    workflow.add_conditional_edges(
        "generate",
        grade_generation,
        {"not supported": "generate", "useful": END, "not useful": "transform_query"},
    )
    return workflow.compile(name="tutorial_adaptive_rag")
