/**
 * GET /openapi.json against the app itself: every route the app answers is described (and nothing
 * else), every example validates against its own schema, and real answers, errors included,
 * validate against the schema documented for their route and status.
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { type Answer, apiSuite, type TestApi } from "./api_helpers.ts";

const test = apiSuite("api: OpenAPI document");

// deno-lint-ignore no-explicit-any
type Json = any;

async function documentOf(api: TestApi): Promise<Json> {
  const res = await api.call("GET", "/openapi.json");
  assert.equal(res.status, 200);
  assert.equal(res.body.openapi, "3.1.0");
  return res.body;
}

/** A validator for the document's schemas: `#/components/...` references resolve into it. */
function validatorOf(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  ajv.addFormat("binary", true);
  const rebased = (schema: Json) =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'));
  ajv.addSchema({ $id: "doc", components: rebased(doc.components) });
  return (schema: Json, value: unknown, where: string) => {
    const validate = ajv.compile(rebased(schema));
    assert.ok(
      validate(value),
      `${where}: ${JSON.stringify(value)?.slice(0, 200)} does not fit its schema: ${
        ajv.errorsText(validate.errors)
      }`,
    );
  };
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

test("every route the app answers is described, and only those", async (api) => {
  const doc = await documentOf(api);
  const routes = new Set<string>();
  for (const r of api.app.routes) {
    if (r.method === "ALL") continue; // middleware
    routes.add(`${r.method} ${r.path.replaceAll(/:(\w+)/g, "{$1}")}`);
  }
  const described = new Set<string>();
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
      described.add(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.deepEqual([...routes].filter((r) => !described.has(r)), [], "routes not described");
  assert.deepEqual([...described].filter((r) => !routes.has(r)), [], "described, not routed");
  for (
    const route of [
      "POST /register",
      "POST /login",
      "POST /refresh",
      "POST /logout",
      "GET /health",
      "POST /tasks",
      "GET /tasks",
      "GET /tasks/{id}",
      "PUT /tasks/{id}",
      "PATCH /tasks/{id}",
      "DELETE /tasks/{id}",
      "GET /openapi.json",
      "GET /docs",
    ]
  ) {
    assert.ok(described.has(route), `${route} is not described`);
  }
});

test("the bearer schemes, query parameters and pagination headers", async (api) => {
  const doc = await documentOf(api);
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The access token from POST /login or POST /refresh",
  });
  assert.equal(doc.components.securitySchemes.refreshToken.scheme, "bearer");
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      const expected = path.startsWith("/tasks")
        ? [{ bearerAuth: [] }]
        : path === "/refresh" || path === "/logout"
        ? [{ refreshToken: [] }]
        : undefined;
      assert.deepEqual(op.security, expected, `${method} ${path}`);
      if (expected) assert.ok(op.responses[401], `${method} ${path} documents its 401`);
    }
  }
  const list = doc.paths["/tasks"].get;
  assert.deepEqual(
    list.parameters.map((p: Json) => `${p.in}:${p.name}`),
    ["page", "per_page", "status", "q", "sort", "after", "before"].map((n) => `query:${n}`),
  );
  assert.deepEqual(Object.keys(list.responses[200].headers).sort(), ["Link", "X-Total-Count"]);
  const one = doc.paths["/tasks/{id}"];
  assert.ok(one.get.parameters.some((p: Json) => p.in === "header" && p.name === "If-None-Match"));
  for (const method of ["put", "patch", "delete"]) {
    assert.ok(one[method].parameters.some((p: Json) => p.name === "If-Match"), method);
    assert.ok(one[method].responses[412], `${method} documents its 412`);
  }
  assert.ok(one.get.responses[304]);
  assert.ok(one.get.responses[200].headers.ETag);
});

test("every example validates against its own schema", async (api) => {
  const doc = await documentOf(api);
  const check = validatorOf(doc);
  let examples = 0;
  const visit = (node: Json, where: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${where}[${i}]`));
    if (node === null || typeof node !== "object") return;
    if ("example" in node) {
      // A parameter, header or media type holds its schema; anything else is a schema itself.
      const { example, ...schema } = node;
      check("schema" in node ? node.schema : schema, example, where);
      examples++;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key !== "example") visit(value, `${where}/${key}`);
    }
  };
  visit(doc, "#");
  assert.ok(examples > 50, `only ${examples} examples`);
  // Every request body, parameter and success answer has one.
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      for (const p of op.parameters ?? []) {
        assert.ok(p.example ?? p.schema.example, `${method} ${path} ${p.name}`);
      }
      const media = Object.values<Json>(op.requestBody?.content ?? {});
      for (const m of media) assert.ok(m.example ?? resolve(doc, m.schema).example, path);
    }
  }
});

function resolve(doc: Json, schema: Json): Json {
  return schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
}

test("real answers, errors included, fit the schema documented for them", async (api) => {
  const doc = await documentOf(api);
  const check = validatorOf(doc);
  const templates = Object.keys(doc.paths).map((t) => ({
    template: t,
    re: new RegExp(`^${t.replaceAll(/\{\w+\}/g, "[^/]+")}$`),
  }));
  let checked = 0;
  const call = async (method: string, url: string, options = {}): Promise<Answer> => {
    const res = await api.call(method, url, options);
    const path = new URL(url, "http://x").pathname;
    const { template } = templates.find((t) => t.re.test(path))!;
    const documented = doc.paths[template][method.toLowerCase()].responses[res.status];
    assert.ok(documented, `${method} ${template} answered an undocumented ${res.status}`);
    const schema = documented.content?.["application/json"]?.schema;
    if (res.body !== null) {
      assert.ok(schema, `${method} ${template} ${res.status} has a body but no JSON schema`);
      check(schema, res.body, `${method} ${url} ${res.status}`);
    }
    for (const name of Object.keys(documented.headers ?? {})) {
      assert.ok(res.headers.has(name), `${method} ${template} ${res.status} lacks ${name}`);
    }
    checked++;
    return res;
  };
  const creds = { username: `doc_${crypto.randomUUID().slice(0, 8)}`, password: "securepassword" };
  await call("GET", "/health");
  await call("POST", "/register", { body: creds });
  await call("POST", "/register", { body: creds }); // 409
  await call("POST", "/register", { body: { username: "x" } }); // 400
  await call("POST", "/login", { body: { ...creds, password: "wrong password" } }); // 401
  const session = (await call("POST", "/login", { body: creds })).body;
  const token = session.access_token;
  const refreshed = (await call("POST", "/refresh", { token: session.refresh_token })).body;
  await call("POST", "/refresh", { token: session.refresh_token }); // 401: already used
  const created = await call("POST", "/tasks", {
    token,
    body: { title: "t", status: "completed" },
  });
  await call("POST", "/tasks", { token, body: { title: "" } }); // 400
  await call("POST", "/tasks", { body: { title: "t" } }); // 401
  const id = created.body.id;
  await call("GET", "/tasks?status=completed&sort=-created_at&q=t&per_page=1", { token });
  await call("GET", "/tasks?before=end", { token });
  await call("GET", "/tasks?sort=nope", { token }); // 400
  const got = await call("GET", `/tasks/${id}`, { token });
  await call("GET", `/tasks/${id}`, {
    token,
    headers: { "If-None-Match": got.headers.get("ETag") },
  });
  await call("GET", "/tasks/2147483647", { token }); // 404
  await call("PUT", `/tasks/${id}`, { token, body: { title: "u" } });
  await call("PATCH", `/tasks/${id}`, { token, body: { status: "pending" } });
  await call("PATCH", `/tasks/${id}`, { token, body: {} }); // 400
  await call("DELETE", `/tasks/${id}`, { token, headers: { "If-Match": got.headers.get("ETag") } });
  await call("DELETE", `/tasks/${id}`, { token });
  await call("POST", "/logout", { token: refreshed.refresh_token });
  await call("GET", "/openapi.json");
  assert.ok(checked >= 24, `only ${checked} answers checked`);
});
