/** Secrets compared without telling, by the time it takes, how much of a guess was right. */

const encoder = new TextEncoder();

/**
 * Whether `attempt` equals `secret`, compared in time that depends only on their lengths; an
 * empty secret matches nothing.
 */
export function sameSecret(attempt: string, secret: string): boolean {
  const x = encoder.encode(attempt);
  const y = encoder.encode(secret);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0 && secret.length > 0;
}
