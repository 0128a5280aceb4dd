/**
 * `GET /docs`: Swagger UI over `/openapi.json`, its script and style served from the
 * `swagger-ui-dist` npm package by this server. The page asks nothing of any other host (its
 * Content-Security-Policy says so to the browser too), so it works with no internet.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http.ts";
import { errorResponse } from "../openapi.ts";

/**
 * The files of swagger-ui-dist the page uses, imported as text on first use: the module graph,
 * and so a `deno compile`d binary, carries them; nothing is read from disk or fetched.
 */
const ASSETS = {
  "swagger-ui.css": {
    type: "text/css; charset=utf-8",
    load: () => import("swagger-ui-dist/swagger-ui.css", { with: { type: "text" } }),
  },
  "swagger-ui-bundle.js": {
    type: "text/javascript; charset=utf-8",
    load: () => import("swagger-ui-dist/swagger-ui-bundle.js", { with: { type: "text" } }),
  },
} as const;
type Asset = keyof typeof ASSETS;

// Relative references: the page works wherever the API is mounted (`/docs` -> `docs/...`).
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Task API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" href="data:,">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

// validatorUrl: null, or Swagger UI sends the document to an online validator for a badge.
const INIT = `window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  displayRequestDuration: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

/** What the browser may load for the page: this server only (Swagger UI inlines styles and SVG). */
const CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const html = (description: string) => ({
  description,
  content: { "text/html": { schema: z.string().openapi({ example: "<!doctype html>…" }) } },
});

const pageRoute = createRoute({
  method: "get",
  path: "/docs",
  tags: ["Documentation"],
  summary: "This API's interactive documentation (Swagger UI)",
  responses: { 200: html("The page") },
});

const assetRoute = createRoute({
  method: "get",
  path: "/docs/{file}",
  tags: ["Documentation"],
  summary: "A file of the documentation page",
  request: {
    params: z.object({
      file: z.enum([...Object.keys(ASSETS) as Asset[], "init.js"], {
        error: (issue) => `Not found: ${JSON.stringify(String(issue.input).slice(0, 60))}`,
      }).openapi({ param: { name: "file", in: "path" }, example: "swagger-ui.css" }),
    }),
  },
  responses: {
    200: {
      description: "The file, cacheable",
      content: {
        "text/css": { schema: z.string().openapi({ example: ".swagger-ui{…}" }) },
        "text/javascript": { schema: z.string().openapi({ example: "window.ui = …" }) },
      },
    },
    404: errorResponse("No such file", 'Not found: "swagger-ui.js"'),
  },
});

/**
 * Adds `GET /docs` and its files to `app`.
 *
 * @example
 * ```ts
 * serveDocs(app); // then open http://127.0.0.1:5000/docs
 * ```
 */
export function serveDocs(app: OpenAPIHono<AppEnv>): void {
  app.openapi(pageRoute, (c) => {
    c.header("Content-Security-Policy", CSP);
    return c.html(PAGE, 200);
  });
  app.openapi(assetRoute, async (c) => {
    const file = c.req.valid("param").file;
    const headers = { "Cache-Control": "public, max-age=3600" };
    if (file === "init.js") {
      return c.body(INIT, 200, { ...headers, "Content-Type": "text/javascript; charset=utf-8" });
    }
    const { default: text } = await ASSETS[file].load();
    return c.body(text, 200, { ...headers, "Content-Type": ASSETS[file].type });
  });
}
