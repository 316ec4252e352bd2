// Stable numeric ids for map keys. Ids survive agent restarts because they
// are read back from the pinned maps, and a freed id is not handed out again
// until the counter wraps, so a conntrack entry of a deleted backend can never
// resolve to a new one.
export class IdAllocator {
  private readonly byName = new Map<string, number>();
  private readonly used = new Set<number>();
  private next = 1;

  constructor(private readonly max = 0xffffffff) {}

  get(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** Binds a name to an id already in use in the datapath (restore). */
  adopt(name: string, id: number): void {
    this.byName.set(name, id);
    this.used.add(id);
    if (id >= this.next) this.next = id + 1 > this.max ? 1 : id + 1;
  }

  /** Reserves an id seen in the datapath whose name is not known (yet). */
  reserve(id: number): void {
    this.used.add(id);
    if (id >= this.next) this.next = id + 1 > this.max ? 1 : id + 1;
  }

  allocate(name: string): number {
    const have = this.byName.get(name);
    if (have !== undefined) return have;
    for (let tries = 0; tries <= this.max; tries++) {
      const id = this.next;
      this.next = this.next >= this.max ? 1 : this.next + 1;
      if (!this.used.has(id)) {
        this.used.add(id);
        this.byName.set(name, id);
        return id;
      }
    }
    throw new Error('id space exhausted');
  }

  /** Frees the id bound to `name` (it is not handed out again until the counter wraps). */
  release(name: string): void {
    const id = this.byName.get(name);
    if (id === undefined) return;
    this.byName.delete(name);
    this.used.delete(id);
  }

  /** Frees every id whose name is not in `keep`, and every reserved id not in `keepIds`. */
  retain(keep: Set<string>, keepIds: Set<number>): void {
    for (const [name, id] of this.byName) {
      if (!keep.has(name)) {
        this.byName.delete(name);
        if (!keepIds.has(id)) this.used.delete(id);
      }
    }
    const named = new Set(this.byName.values());
    for (const id of [...this.used]) if (!named.has(id) && !keepIds.has(id)) this.used.delete(id);
  }

  get size(): number {
    return this.byName.size;
  }
}
