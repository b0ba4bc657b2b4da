// Bundles the two chat pages into dist/ with esbuild: offline, from node_modules only.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const here = import.meta.dirname;
const dist = join(here, "dist");
const pages = { langgraph: "langgraph-chat.jsx", "ai-sdk": "ai-sdk-chat.jsx" };
mkdirSync(dist, { recursive: true });
for (const [name, entry] of Object.entries(pages)) {
  await build({
    entryPoints: [join(here, "src", entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    outfile: join(dist, `${name}.js`),
    logLevel: "warning",
  });
  writeFileSync(
    join(dist, `${name}.html`),
    `<!doctype html><html><head><meta charset="utf-8"><title>${name} chat</title>` +
      `<link rel="icon" href="data:,"></head>` +
      `<body><div id="root"></div><script type="module" src="${name}.js"></script></body></html>\n`,
  );
}
console.log(`built ${Object.keys(pages).join(", ")} into ${dist}`);
