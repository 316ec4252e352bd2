// The documentation keywords the admin routes put in their schemas (read by
// routes/openapi.ts; fastify ignores them when validating).
import 'fastify';

declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    /** Left out of /openapi.json. */
    hide?: boolean;
  }
}
