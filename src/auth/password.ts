/**
 * Password hashing with Argon2id from Deno's WebCrypto, stored as a PHC string so the algorithm and
 * its parameters travel with each hash (they can be raised later without breaking old hashes).
 *
 * @module
 */

/** OWASP's recommended Argon2id parameters: 19 MiB of memory, 2 passes, 1 lane. */
export const ARGON2_PARAMS = { memory: 19_456, passes: 2, parallelism: 1 } as const;

const HASH_BITS = 256;
const SALT_BYTES = 16;
const encoder = new TextEncoder();

// A hash of 32 random bytes nobody kept: verifying against it costs what a real check costs, so a
// login for an unknown user takes as long as one with a wrong password.
const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$77KysFtZofI5IBjdj0h//A$39qxggg2+h61iCo66on0WuYe2zFZfLVdXSNg7N0iJrg";

interface Argon2Params {
  memory: number;
  passes: number;
  parallelism: number;
}

const PHC =
  /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

async function derive(
  password: string,
  salt: Uint8Array,
  params: Argon2Params,
  bits: number,
): Promise<Uint8Array> {
  // NFC so that the same password typed on two keyboards (composed or not) matches.
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password.normalize("NFC")),
    "Argon2id",
    false,
    ["deriveBits"],
  );
  const algorithm = { name: "Argon2id", nonce: salt, ...params };
  return new Uint8Array(await crypto.subtle.deriveBits(algorithm as Algorithm, key, bits));
}

/** Compares two byte arrays in time that depends only on their lengths. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Hashes a password with Argon2id and a fresh random salt.
 *
 * @example
 * ```ts
 * const phc = await hashPassword("securepassword");
 * // "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, ARGON2_PARAMS, HASH_BITS);
  const { memory, passes, parallelism } = ARGON2_PARAMS;
  return `$argon2id$v=19$m=${memory},t=${passes},p=${parallelism}$${toBase64(salt)}$${
    toBase64(hash)
  }`;
}

/**
 * Checks a password against a PHC string from {@linkcode hashPassword}, in constant time. Pass
 * `undefined` as the hash for an unknown user: the answer is false after the same work.
 *
 * @example
 * ```ts
 * const ok = await verifyPassword("securepassword", user?.password_hash);
 * ```
 */
export async function verifyPassword(password: string, phc: string | undefined): Promise<boolean> {
  const m = PHC.exec(phc ?? DUMMY_HASH);
  if (!m) throw new Error("Stored password hash is not an argon2id PHC string");
  const params = { memory: Number(m[1]), passes: Number(m[2]), parallelism: Number(m[3]) };
  const expected = fromBase64(m[5]);
  const actual = await derive(password, fromBase64(m[4]), params, expected.length * 8);
  return timingSafeEqual(actual, expected) && phc !== undefined;
}
