// Paged lists (limit and continue), as kube-apiserver serves them: a list
// with `limit` returns at most that many items and, when more match, a
// `continue` token; the pages that follow are of the same snapshot (the
// first page's resourceVersion), whatever changed meanwhile. kube-apiserver
// reads them from etcd at that revision; here the token names the first
// page's matching objects (references to stored objects, which are frozen).
// A token that is unknown or expired answers 410 Expired, as kube-apiserver
// does once the revision is compacted, and the client lists again.
import { randomBytes } from 'node:crypto';
import { badRequest, expired } from './errors.js';

interface Snapshot<T> {
  /** What was listed (resource and namespace): a token is good for that list only. */
  scope: string;
  items: readonly T[];
  resourceVersion: string;
  next: number;
  expiresAt: number;
}

export interface Page<T> {
  items: readonly T[];
  resourceVersion: string;
  /** Set when more items follow. */
  continue?: string;
  remainingItemCount?: number;
}

export interface ListPagesOptions {
  /** How long a token stays valid after its last page (kube-apiserver: until compaction, 5 minutes by default). */
  ttlMs?: number;
  /** Tokens held at once; the oldest goes first. */
  maxTokens?: number;
  now?: () => number;
}

export class ListPages<T> {
  private readonly snapshots = new Map<string, Snapshot<T>>();
  private readonly ttlMs: number;
  private readonly maxTokens: number;
  private readonly now: () => number;

  constructor(opts: ListPagesOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 300_000;
    this.maxTokens = opts.maxTokens ?? 256;
    this.now = opts.now ?? Date.now;
  }

  /** The first page of `items` (all of them when limit is 0 or absent). */
  first(scope: string, items: readonly T[], resourceVersion: string, limit: number | undefined): Page<T> {
    if (!limit || items.length <= limit) return { items, resourceVersion };
    this.expire();
    while (this.snapshots.size >= this.maxTokens) this.snapshots.delete(this.snapshots.keys().next().value as string);
    const token = randomBytes(12).toString('base64url');
    this.snapshots.set(token, { scope, items, resourceVersion, next: limit, expiresAt: this.now() + this.ttlMs });
    return { items: items.slice(0, limit), resourceVersion, continue: token, remainingItemCount: items.length - limit };
  }

  /** The page after `token`; limit 0 or absent: every remaining item. */
  next(scope: string, token: string, limit: number | undefined): Page<T> {
    this.expire();
    const s = this.snapshots.get(token);
    if (!s) {
      if (!/^[A-Za-z0-9_-]{16}$/.test(token)) throw badRequest(`continue key is not valid: ${JSON.stringify(token.slice(0, 64))}`);
      throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
    }
    if (s.scope !== scope) throw badRequest(`continue key is not valid: it continues a list of ${s.scope}, not of ${scope}`);
    const end = limit ? Math.min(s.items.length, s.next + limit) : s.items.length;
    const items = s.items.slice(s.next, end);
    this.snapshots.delete(token);
    if (end >= s.items.length) return { items, resourceVersion: s.resourceVersion };
    // A new token for each page, as kube-apiserver's encode the position.
    const neu = randomBytes(12).toString('base64url');
    this.snapshots.set(neu, { ...s, next: end, expiresAt: this.now() + this.ttlMs });
    return { items, resourceVersion: s.resourceVersion, continue: neu, remainingItemCount: s.items.length - end };
  }

  /** Tokens held (for tests). */
  get size(): number {
    return this.snapshots.size;
  }

  private expire(): void {
    const t = this.now();
    for (const [k, s] of this.snapshots) if (s.expiresAt <= t) this.snapshots.delete(k);
  }
}
