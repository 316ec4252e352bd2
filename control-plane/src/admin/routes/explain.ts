// GET /v1/explain: what the datapath would do with a packet.
import type { FastifyPluginAsync } from 'fastify';
import { explainFlow, parseFlowAddresses, readExplainState } from '../explain.js';
import { iptablesExplain } from '../iptables-explain.js';
import { ipSchema, requireLoader, type RouteOptions } from './common.js';

interface Query { src: string; dst: string; dport: number; proto: 'tcp' | 'udp' | 'TCP' | 'UDP'; sport?: number; from?: 'pod' | 'external' }

export const explainRoutes: FastifyPluginAsync<RouteOptions> = async (app, { source }) => {
  app.get<{ Querystring: Query }>('/v1/explain', {
    schema: {
      summary: 'Which frontend, Maglev slot, backend and NAT a packet gets',
      description: 'Follows the tc datapath (sy_lb_decide) step by step on the maps as they are now: reply entry, forward entry (an established '
        + 'flow keeps its backend), frontend by device role and scope, no-endpoint verdict, source ranges, ClientIP affinity, Maglev slot '
        + '(flow hash with the seed of sy_config; the source port is left out for affinity), DNAT and SNAT. Explained for the first '
        + 'packet of a connection (a TCP SYN). IPv6 addresses (src and dst of one family) walk the IPv6 maps (sy_services6, '
        + 'sy_conntrack6, sy_affinity6, sy_source_ranges6, sy_backends6, sy_config6) as sy_lb6_decide does. Without sport the slot is unknown and the candidates are listed.',
      tags: ['explain'],
      querystring: {
        type: 'object', additionalProperties: false, required: ['src', 'dst', 'dport'],
        properties: {
          src: ipSchema('Source (client) address'),
          dst: ipSchema('Destination (frontend) address'),
          dport: { type: 'integer', minimum: 1, maximum: 65535, description: 'Destination port' },
          sport: { type: 'integer', minimum: 0, maximum: 65535, description: 'Source port (decides the Maglev slot)' },
          proto: { type: 'string', enum: ['tcp', 'udp', 'TCP', 'UDP'], default: 'tcp' },
          from: {
            type: 'string', enum: ['pod', 'external'],
            description: 'Where the packet enters: a pod veth (internal-scope frontends first, SNAT only for hairpin) or the node\'s external device '
              + '(SNAT to remote backends unless eTP=Local). Default: pod when src is in the cluster CIDR (or it is unknown), else external',
          },
        },
      },
    },
  }, async (req) => {
    const q = req.query;
    const { src, dst } = parseFlowAddresses(['src', q.src], ['dst', q.dst]);
    const input = { src, dst, dport: q.dport, proto: q.proto.toLowerCase() === 'udp' ? 17 : 6, sport: q.sport, from: q.from };
    if (source.mode === 'iptables') return iptablesExplain(input, source.sync.lastDesired);
    const st = await readExplainState(requireLoader(source), {
      seed: source.seed, desired: source.sync.lastDesired, clusterCIDR: source.clusterCIDR, clusterCIDR6: source.clusterCIDR6,
    }, input);
    return explainFlow(input, st);
  });
};
