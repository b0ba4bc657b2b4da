// What both chat pages render, in agent-chat-ui's manner: one bubble per message, a card per
// tool call and per tool result (so a leaked internal call would be visible), the answer's
// sources, and errors. The driver (../drive.mjs) reads these data-testid names.
import React, { useState } from "react";

export function query(name, fallback = "") {
  return new URLSearchParams(window.location.search).get(name) ?? fallback;
}

export function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part === "string" ? part : part?.text ?? "")).join("");
  }
  return content == null ? "" : JSON.stringify(content);
}

export function ToolCallCard({ name, args }) {
  return (
    <div data-testid="tool-call" className="tool-call">
      <strong>{name}</strong>
      <pre>{typeof args === "string" ? args : JSON.stringify(args, null, 2)}</pre>
    </div>
  );
}

export function Message({ role, text, toolCalls = [] }) {
  return (
    <div
      data-testid={role === "tool" ? "tool-result" : "message"}
      data-role={role}
      className={`message ${role}`}
    >
      {text ? (
        <div data-testid="message-text" style={{ whiteSpace: "pre-wrap" }}>
          {text}
        </div>
      ) : null}
      {toolCalls.map((call, i) => (
        <ToolCallCard key={call.id ?? i} name={call.name} args={call.args} />
      ))}
    </div>
  );
}

export function Sources({ citations }) {
  if (!citations?.length) return null;
  return (
    <ol data-testid="sources" className="sources">
      {citations.map((c) => (
        <li key={c.n ?? c.id} data-testid="source">
          [{c.n}] {c.title || c.id} — {c.source}
        </li>
      ))}
    </ol>
  );
}

export function ErrorBanner({ error }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : textOf(error?.message ?? error);
  return (
    <div role="alert" data-testid="error">
      {message || "Something went wrong."}
    </div>
  );
}

export function Composer({ busy, onSend }) {
  const [text, setText] = useState("");
  const send = (event) => {
    event.preventDefault();
    if (!text.trim() || busy) return;
    onSend(text.trim());
    setText("");
  };
  return (
    <form onSubmit={send}>
      <input
        aria-label="Question"
        data-testid="question"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <button type="submit" disabled={busy}>
        Send
      </button>
    </form>
  );
}
