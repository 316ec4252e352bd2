// The JSON of a stored object as a list item, computed once per stored
// object. Stored objects are frozen (store.ts commit), so the bytes never go
// stale; a list is then the concatenation of its items' bytes instead of one
// JSON.stringify of the whole list and its UTF-8 encoding (0.4-0.8 s of CPU
// for 10,000 EndpointSlices of 10 endpoints, 30 MB, taken from the agent and
// loader on the lab's shared CPUs during every cold start). kube-apiserver
// likewise serves lists from its watch cache and keeps an object's
// serialization for its watchers (cachingObject).

const itemBytes = new WeakMap<object, Buffer>();

/** Objects in list responses carry no kind/apiVersion (as kube-apiserver serves them). */
export function listItem(o: Record<string, unknown>): Record<string, unknown> {
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
}

/** The list-item JSON of a stored (frozen) object; computed on first use and kept with the object. */
export function listItemBytes(o: object): Buffer {
  let b = itemBytes.get(o);
  if (!b) {
    // Only a frozen object can never differ from its cached bytes.
    const text = JSON.stringify(listItem(o as Record<string, unknown>));
    b = Buffer.from(text);
    if (Object.isFrozen(o)) itemBytes.set(o, b);
  }
  return b;
}

/** A list body: `head` (kind, apiVersion, metadata) with `items` serialized from their kept bytes. */
export function listBody(head: Record<string, unknown>, items: readonly object[]): Buffer {
  const open = JSON.stringify(head);
  const parts: Buffer[] = [Buffer.from(`${open.slice(0, -1)}${open.length > 2 ? ',' : ''}"items":[`)];
  items.forEach((o, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(listItemBytes(o));
  });
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');
