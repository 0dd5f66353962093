import { type Html, html } from '../admin/html.ts';

/**
 * The API reference page: the OpenAPI document rendered on the server into plain HTML (no script, no CDN:
 * the admin web's CSP allows neither), with the admin stylesheet.
 */

type Json = Record<string, unknown>;

function schemaText(schema: unknown): string {
  return JSON.stringify(schema, null, 2);
}

export function renderReference(document: Json): string {
  const info = (document.info ?? {}) as Json;
  const paths = (document.paths ?? {}) as Record<string, Record<string, Json>>;
  const schemas = ((document.components as Json | undefined)?.schemas ?? {}) as Record<string, unknown>;
  const operations: Html[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []) as Json[];
      const body = ((op.requestBody as Json | undefined)?.content as Json | undefined)?.[
        'application/json'
      ] as Json | undefined;
      const responses = (op.responses ?? {}) as Record<string, Json>;
      operations.push(html`<section class="operation" id="${`${method}-${path}`}">
  <h2><code>${method.toUpperCase()} /api/v1${path}</code></h2>
  <p>${String(op.summary ?? '')}</p>
  ${op.description ? html`<p>${String(op.description)}</p>` : ''}
  ${
    params.length
      ? html`<table><thead><tr><th>Parameter</th><th>In</th><th>Required</th><th>Description</th></tr></thead><tbody>
  ${params.map((p) => html`<tr><td><code>${String(p.name)}</code></td><td>${String(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${String(p.description ?? (p.schema as Json | undefined)?.description ?? '')}</td></tr>`)}
  </tbody></table>`
      : ''
  }
  ${body ? html`<h3>Request body</h3><pre>${schemaText(body.schema)}</pre>` : ''}
  <h3>Responses</h3>
  <ul>${Object.entries(responses).map(([status, r]) => {
    const content = (r.content ?? {}) as Record<string, Json>;
    const [type, media] = Object.entries(content)[0] ?? [];
    return html`<li><code>${status}</code> ${String(r.description ?? '')}${type ? html` — <code>${type}</code> <code>${schemaText(media?.schema).replace(/\s+/g, ' ')}</code>` : ''}</li>`;
  })}</ul>
</section>`);
    }
  }
  return String(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${String(info.title ?? 'API')} reference</title>
<link rel="stylesheet" href="/admin.css">
</head>
<body>
<main>
<h1>${String(info.title ?? 'API')} ${String(info.version ?? '')}</h1>
<p>${String(info.description ?? '')}</p>
<p>The machine-readable document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI ${String(document.openapi ?? '')}).</p>
<nav><ul>${Object.entries(paths).flatMap(([path, methods]) =>
    Object.keys(methods).map(
      (method) =>
        html`<li><a href="#${`${method}-${path}`}"><code>${method.toUpperCase()} ${path}</code></a></li>`,
    ),
  )}</ul></nav>
${operations}
<h2>Schemas</h2>
${Object.entries(schemas).map(([name, schema]) => html`<section id="${`schema-${name}`}"><h3>${name}</h3><pre>${schemaText(schema)}</pre></section>`)}
</main>
</body>
</html>`);
}
