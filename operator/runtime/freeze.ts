// Cached objects are shared by every handler and reconciler of a process, so they are
// frozen: a reconciler that edits one by mistake throws at once (ES modules are strict)
// instead of silently changing what every other reader sees. Copy with structuredClone
// (or spread what you change) before building a desired object from a cached one.

/** Freezes `obj` and everything reachable from it; returns it. */
export function deepFreeze<T>(obj: T): T {
  if (obj === null || typeof obj !== 'object' || Object.isFrozen(obj)) return obj;
  for (const v of Object.values(obj as Record<string, unknown>)) deepFreeze(v);
  return Object.freeze(obj);
}
