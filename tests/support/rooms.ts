/** Rooms run by their people in the hub: a room of named people, and what one is told. */
import { HubHarness } from "./helpers.ts";

/** `n` people (10.0.0.1 …) renamed ann, bob …; 1 makes #den and everyone else follows. */
export function den(n: number, over = {}, opts = {}): HubHarness {
  const h = new HubHarness({ rateLimit: 0, adminToken: "letmein", ...over }, opts);
  h.crowd(n);
  const names = ["ann", "bob", "cat", "dan", "eve"];
  for (let i = 1; i <= n; i++) h.send(i, `/nick ${names[i - 1]}`);
  h.send(1, "/join den");
  for (let i = 2; i <= n; i++) h.send(i, "/join den");
  for (let i = 1; i <= n; i++) h.read(i);
  return h;
}

/** What `id` is told after typing `line`. */
export function say(h: HubHarness, id: number, line: string): string[] {
  h.send(id, line);
  return h.read(id);
}
