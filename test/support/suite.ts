import { afterAll, beforeAll } from 'vitest';

/**
 * A resource the tests of the enclosing describe block (or file) share: created before the first test, released
 * after the last. Returns a stand-in that forwards every property to the resource, so tests use it as they would
 * the resource itself, and the setup is one line instead of a `let` and two hooks in every file.
 */
export function suiteResource<T extends object>(create: () => Promise<T>, release: (resource: T) => Promise<unknown>): T {
  let resource: T | undefined;
  beforeAll(async () => {
    resource = await create();
  });
  afterAll(async () => {
    if (resource) await release(resource);
  });
  return new Proxy({} as T, {
    get(_, key) {
      if (!resource) throw new Error(`suite resource read (${String(key)}) before its beforeAll hook ran`);
      const value = Reflect.get(resource, key, resource) as unknown;
      return typeof value === 'function' ? value.bind(resource) : value;
    },
  });
}
