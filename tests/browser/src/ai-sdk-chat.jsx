// Page 2: a chat on the Vercel AI SDK's useChat, posting to this folder's server (serve.mjs),
// whose /api/chat calls `arag serve`'s /v1/chat/completions through streamText.
// ?key=<API key, sent on as Bearer by the provider's apiKey option>
import React, { useMemo } from "react";
import { createRoot } from "react-dom/client";
import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport } from "ai";
import { Composer, ErrorBanner, Message, Sources, query } from "./chat-ui.jsx";

function Chat() {
  const transport = useMemo(
    () => new DefaultChatTransport({ api: "/api/chat", headers: { "X-Arag-Key": query("key") } }),
    [],
  );
  const { messages, sendMessage, status, error } = useChat({ transport });
  const busy = status === "submitted" || status === "streaming";
  return (
    <main data-testid="chat" data-busy={String(busy)}>
      {messages.map((m) => (
        <div key={m.id}>
          <Message
            role={m.role}
            text={m.parts.filter((p) => p.type === "text").map((p) => p.text).join("")}
            toolCalls={m.parts
              .filter((p) => p.type.startsWith("tool-") || p.type === "dynamic-tool")
              .map((p) => ({ id: p.toolCallId, name: p.toolName ?? p.type, args: p.input }))}
          />
          {m.role === "assistant" ? <Sources citations={m.metadata?.citations} /> : null}
        </div>
      ))}
      <ErrorBanner error={error} />
      <Composer busy={busy} onSend={(text) => sendMessage({ text })} />
    </main>
  );
}

createRoot(document.getElementById("root")).render(<Chat />);
