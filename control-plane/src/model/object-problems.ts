// What the agent found wrong in the objects it reads from the API: each
// problem names the object, the field and a reason, says what the agent did
// about it (the field was dropped, normalized, or the whole object skipped),
// and is kept while the object is in that state, so status, metrics and logs
// all show the same list. Problems are counted per (kind, reason) each time
// an object enters a state that has them.

export type ObjectKind = 'Service' | 'EndpointSlice';

export type ProblemReason =
  | 'invalid-ip'            // not an address of either family: dropped
  | 'non-canonical-ip'      // leading zeros: read as kube-proxy reads it, kept
  | 'other-family'          // a value of a family this proxy (or this Service) does not program: ignored
  | 'ipv4-mapped-ipv6'      // ::ffff:a.b.c.d, which kube-apiserver refuses: ignored in both families
  | 'cluster-ips-inconsistent' // clusterIP vs clusterIPs[0], or clusterIPs vs ipFamilies, disagree: skipped (fail closed)
  | 'ip-family-policy'      // ipFamilyPolicy unknown, or its promise not met by clusterIPs: read as the doc says
  | 'no-source-range-of-family' // source ranges given, none of this family: its LoadBalancer IPs admit nothing
  | 'invalid-cidr'          // a source range that does not parse: dropped (the filter stays, fail closed)
  | 'invalid-cluster-ip'    // the ClusterIP does not parse: the Service is skipped
  | 'port-out-of-range'     // a port outside [1, 65535] (or missing): that port is skipped
  | 'node-port-out-of-range'
  | 'health-check-node-port-out-of-range'
  | 'duplicate-port'        // a second port with the same name or number and protocol: skipped
  | 'duplicate-address'     // an address listed twice: one kept
  | 'unsupported-protocol'
  | 'invalid-affinity-timeout'
  | 'invalid-annotation'
  | 'external-ip-refused'   // the external IP policy (--external-ip-cidrs, --refuse-cluster-ip-external-ips)
  | 'invalid-object';       // a shape the reader did not expect (a list that is not a list, ...): skipped

export interface ObjectProblem {
  reason: ProblemReason;
  /** API field path, e.g. "spec.externalIPs[1]". */
  field: string;
  message: string;
}

export interface ObjectProblemsEntry {
  kind: ObjectKind;
  namespace: string;
  name: string;
  problems: ObjectProblem[];
  /** When the object entered its current problem state (ms). */
  since: number;
}

function sameProblems(a: ObjectProblem[], b: ObjectProblem[]): boolean {
  return a.length === b.length && a.every((p, i) => p.reason === b[i]!.reason && p.field === b[i]!.field && p.message === b[i]!.message);
}

/** Current problems of every object, and how often each (kind, reason) was seen. */
export class ObjectProblems {
  private readonly byObject = new Map<string, ObjectProblemsEntry>();
  /** "kind|reason" -> times an object entered a state with that problem. */
  readonly totals = new Map<string, number>();

  /** Records an object's problems (empty: it has none). Returns true when they changed. */
  set(kind: ObjectKind, namespace: string, name: string, problems: ObjectProblem[]): boolean {
    const key = `${kind}/${namespace}/${name}`;
    const cur = this.byObject.get(key);
    if (problems.length === 0) return this.byObject.delete(key);
    if (cur && sameProblems(cur.problems, problems)) return false;
    this.byObject.set(key, { kind, namespace, name, problems, since: Date.now() });
    for (const p of problems) {
      const t = `${kind}|${p.reason}`;
      this.totals.set(t, (this.totals.get(t) ?? 0) + 1);
    }
    return true;
  }

  delete(kind: ObjectKind, namespace: string, name: string): void {
    this.byObject.delete(`${kind}/${namespace}/${name}`);
  }

  entries(): ObjectProblemsEntry[] {
    return [...this.byObject.values()].sort((a, b) => (a.kind + a.namespace + '/' + a.name < b.kind + b.namespace + '/' + b.name ? -1 : 1));
  }

  /** Objects with problems now. */
  get size(): number {
    return this.byObject.size;
  }

  /** Problems now, per "kind|reason". */
  current(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.byObject.values()) {
      for (const p of e.problems) out.set(`${e.kind}|${p.reason}`, (out.get(`${e.kind}|${p.reason}`) ?? 0) + 1);
    }
    return out;
  }
}
