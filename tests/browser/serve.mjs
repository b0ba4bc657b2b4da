// The pages' server: the built pages from dist/, and /api/chat, the AI SDK route that page 2's
// useChat posts to (as a Next.js app's route would): streamText over `arag serve`'s
// /v1/chat/completions, with the key the page sends passed on as the provider's apiKey (Bearer).
//
//   node serve.mjs --port 8123 --v1 http://127.0.0.1:8000/v1
import { createReadStream, existsSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { parseArgs } from "node:util";
import { Readable } from "node:stream";
import { convertToModelMessages, streamText } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";

const { values: args } = parseArgs({
  options: { port: { type: "string" }, v1: { type: "string", default: "" } },
});
const DIST = join(import.meta.dirname, "dist");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };

// arag serve puts the answer's citations on its last chunk (and on a whole completion):
// carried as provider metadata, then as the UI message's metadata.
const citations = {
  extractMetadata: async ({ parsedBody }) =>
    parsedBody?.citations ? { arag: { citations: parsedBody.citations } } : undefined,
  createStreamExtractor: () => {
    let found;
    return {
      processChunk: (chunk) => {
        if (chunk?.citations) found = chunk.citations;
      },
      buildMetadata: () => (found ? { arag: { citations: found } } : undefined),
    };
  },
};

async function chat(request, response) {
  let body = "";
  for await (const piece of request) body += piece;
  const { messages } = JSON.parse(body);
  const provider = createOpenAICompatible({
    name: "arag",
    baseURL: args.v1,
    apiKey: request.headers["x-arag-key"] || undefined,
    metadataExtractor: citations,
  });
  const result = streamText({
    model: provider.chatModel("adaptive-rag"),
    messages: await convertToModelMessages(messages),
    maxRetries: 0,
  });
  const reply = result.toUIMessageStreamResponse({
    messageMetadata: ({ part }) =>
      part.type === "finish-step" && part.providerMetadata?.arag
        ? { citations: part.providerMetadata.arag.citations }
        : undefined,
    onError: (error) => (error instanceof Error ? error.message : String(error)),
  });
  response.writeHead(reply.status, Object.fromEntries(reply.headers));
  Readable.fromWeb(reply.body).pipe(response);
}

createServer((request, response) => {
  const url = new URL(request.url, "http://localhost");
  if (url.pathname === "/api/chat" && request.method === "POST") {
    chat(request, response).catch((error) => {
      response.writeHead(500, { "Content-Type": "text/plain" });
      response.end(String(error?.message ?? error));
    });
    return;
  }
  const file = join(DIST, normalize(url.pathname).replace(/^(\.\.[/\\])+/, ""));
  if (!file.startsWith(DIST) || !existsSync(file) || !extname(file)) {
    response.writeHead(404).end("not found");
    return;
  }
  response.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
  createReadStream(file).pipe(response);
}).listen(Number(args.port), "127.0.0.1", () => console.log(`pages on ${args.port}`));
