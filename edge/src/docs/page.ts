// GET /docs: a small reference page rendered from the bundled openapi.yaml (each operation, what it
// answers, and the API's own description), for people; not part of the versioned API.
import { html } from 'hono/html';
import { openApiDocument, operations } from './openapi.ts';

export function docsPage() {
  const spec = openApiDocument();
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${spec.info.title} ${spec.info.version} — API reference</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; overflow-wrap: anywhere; }
  .text { white-space: pre-wrap; }
  h3 code { font-size: 1rem; }
  .codes { color: #555; }
</style>
</head>
<body>
<h1>${spec.info.title} ${spec.info.version}</h1>
<p>${spec.info.summary ?? ''}</p>
<p>The contract: <a href="/openapi.yaml">openapi.yaml</a> · <a href="/openapi.json">openapi.json</a> · try it in the <a href="/">playground</a>.</p>
<h2>Operations</h2>
${operations(spec).map(
  ({ method, path, operation }) => html`<section id="${operation.operationId}">
<h3><code>${method} ${path}</code> — ${operation.summary ?? ''}</h3>
${operation.description ? html`<div class="text">${operation.description.trim()}</div>` : ''}
<p class="codes">Answers: ${Object.keys(operation.responses).join(', ')}</p>
</section>`,
)}
<h2>About this API</h2>
<div class="text">${(spec.info.description ?? '').trim()}</div>
</body>
</html>`;
}
