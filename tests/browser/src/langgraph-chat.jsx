// Page 1: a chat on useStream from @langchain/langgraph-sdk/react, against `langgraph dev`.
// ?api=<server url>&key=<API key, sent as X-Api-Key by the SDK's apiKey option>&thread=<id to open>
import React, { useState } from "react";
import { createRoot } from "react-dom/client";
import { useStream } from "@langchain/langgraph-sdk/react";
import { Composer, ErrorBanner, Message, Sources, query, textOf } from "./chat-ui.jsx";

// agent-chat-ui hides messages whose id starts with this prefix; everything else is shown.
const DO_NOT_RENDER = "do-not-render-";

function Chat() {
  const [threadId, setThreadId] = useState(query("thread") || null);
  const thread = useStream({
    apiUrl: query("api"),
    apiKey: query("key") || undefined,
    assistantId: "adaptive_rag",
    messagesKey: "messages",
    threadId,
    onThreadId: setThreadId,
  });
  const shown = thread.messages.filter((m) => !m.id?.startsWith(DO_NOT_RENDER));
  const lastAi = [...shown].reverse().find((m) => m.type === "ai");
  return (
    <main data-testid="chat" data-busy={String(thread.isLoading)} data-thread-id={threadId ?? ""}>
      {shown.map((m, i) => (
        <div key={m.id ?? i}>
          <Message
            role={m.type === "human" ? "user" : m.type === "ai" ? "assistant" : m.type}
            text={textOf(m.content)}
            toolCalls={m.type === "ai" ? m.tool_calls ?? [] : []}
          />
          {m === lastAi && !thread.isLoading ? <Sources citations={thread.values?.citations} /> : null}
        </div>
      ))}
      <ErrorBanner error={thread.error} />
      <Composer
        busy={thread.isLoading}
        onSend={(text) =>
          thread.submit(
            { messages: [{ type: "human", content: text }] },
            {
              optimisticValues: (prev) => ({
                ...prev,
                messages: [...(prev.messages ?? []), { type: "human", content: text }],
              }),
            },
          )
        }
      />
    </main>
  );
}

createRoot(document.getElementById("root")).render(<Chat />);
