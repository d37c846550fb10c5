// A real Better Auth server with its jwt plugin, for authjwt/tests/test_betterauth.py.
//
//   DATABASE_URL=postgres://... node server.mjs EMAIL...
//
// Listens on a free loopback port, creates Better Auth's tables in DATABASE_URL (an empty database),
// signs each EMAIL up over HTTP like a browser would, fetches a token for each, and prints one JSON line:
//   {"baseURL": "...", "users": [{"id", "email", "token", "headerToken"}]}
// then keeps serving (the JWKS above all) until it is killed.
import { createServer } from "node:http";

import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";
import pg from "pg";

const emails = process.argv.slice(2);
const password = "correct horse battery staple";

// The port is only known once listening, and Better Auth needs its base URL (its tokens' iss and aud) up front.
let handler = (request, response) => response.writeHead(503).end();
const server = createServer((request, response) => handler(request, response));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const baseURL = `http://127.0.0.1:${server.address().port}`;

const auth = betterAuth({
  baseURL,
  // Encrypts the signing keys at rest in this throwaway database; unrelated to our BETTER_AUTH_SECRET.
  secret: "end-to-end-test-only-secret-0123456789abcdef",
  database: new pg.Pool({ connectionString: process.env.DATABASE_URL }),
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  // The defaults: EdDSA (Ed25519) keys, 15-minute tokens, iss and aud set to baseURL.
  plugins: [jwt()],
});

// What `npx @better-auth/cli migrate` does, without the CLI's prompts.
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
handler = toNodeHandler(auth);

async function call(path, init = {}) {
  const response = await fetch(`${baseURL}/api/auth${path}`, init);
  if (!response.ok) {
    throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
  }
  return response;
}

const users = [];
for (const email of emails) {
  const signUp = await call("/sign-up/email", {
    method: "POST",
    headers: { "content-type": "application/json", origin: baseURL },
    body: JSON.stringify({ email, password, name: email.split("@")[0] }),
  });
  const { user } = await signUp.json();
  // The session cookie, as a browser would send it back.
  const cookie = signUp.headers
    .getSetCookie()
    .map((setCookie) => setCookie.split(";")[0])
    .join("; ");
  const { token } = await (await call("/token", { headers: { cookie } })).json();
  const headerToken = (await call("/get-session", { headers: { cookie } })).headers.get("set-auth-jwt");
  users.push({ id: user.id, email, token, headerToken });
}

console.log(JSON.stringify({ baseURL, users }));
