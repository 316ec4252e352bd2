// GET /v1/services: every ServicePort as programmed.
import type { FastifyPluginAsync } from 'fastify';
import { ebpfServices, readSnapshot } from '../ebpf-view.js';
import { iptablesServices, readRules } from '../iptables-view.js';
import { requireLoader, type RouteOptions } from './common.js';

interface Query { namespace?: string; name?: string }

export const servicesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { source }) => {
  app.get<{ Querystring: Query }>('/v1/services', {
    schema: {
      summary: 'Every ServicePort as programmed: frontends, backends, table shares',
      description: 'ebpf mode: read back from sy_services, sy_backends, sy_maglev, sy_source_ranges and sy_config through the loader, '
        + 'joined with the desired state for names. iptables mode: the desired state with the kube-proxy chains and whether iptables holds them.',
      tags: ['services'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          namespace: { type: 'string', minLength: 1, description: 'Only Services of this namespace' },
          name: { type: 'string', minLength: 1, description: 'Only the Service of this name' },
        },
      },
    },
  }, async (req) => {
    const { namespace, name } = req.query;
    const desired = source.sync.lastDesired;
    const keep = <T extends { namespace: string; service: string }>(rows: T[]): T[] =>
      rows.filter((r) => (!namespace || r.namespace === namespace) && (!name || r.service === name));
    if (source.mode === 'ebpf') {
      const snap = await readSnapshot(requireLoader(source));
      return { mode: source.mode, node: source.nodeName, seed: snap.config?.flowHashSeed ?? source.seed, services: keep(ebpfServices(snap, desired, source.maglevSizing)) };
    }
    const rules = await readRules(source.iptables ?? { lastRestoreInput: undefined });
    return { mode: source.mode, node: source.nodeName, rulesSource: rules.source, services: keep(iptablesServices(desired, rules)) };
  });
};
