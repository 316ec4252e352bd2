// GET /ui/: the status page (plain HTML + JS, no build step, no CDN).
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from '../errors.js';

/** control-plane/src/admin/ui, from the sources or from dist/. */
export function findUiDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = path.join(dir, 'control-plane', 'src', 'admin', 'ui');
    if (existsSync(path.join(p, 'index.html'))) return p;
    dir = path.dirname(dir);
  }
  throw new Error(`control-plane/src/admin/ui not found above ${fileURLToPath(import.meta.url)}`);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml',
};

export const uiRoutes: FastifyPluginAsync<{ uiDir?: string }> = async (app, opts) => {
  const dir = opts.uiDir ?? findUiDir();
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
  const send = (file: string, reply: FastifyReply): FastifyReply => {
    const p = path.join(dir, file);
    if (!existsSync(p)) throw new HttpError(404, `no file ${JSON.stringify(file)} in the status page`);
    return reply.type(TYPES[path.extname(file)] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(readFileSync(p));
  };
  app.get('/ui/', { schema: { summary: 'The status page' } }, async (_req, reply) => send('index.html', reply));
  app.get<{ Params: { file: string } }>('/ui/:file', {
    schema: {
      summary: 'Assets of the status page',
      params: {
        type: 'object', additionalProperties: false, required: ['file'],
        properties: { file: { type: 'string', pattern: '^[a-z0-9-]+\\.(html|js|css|svg)$' } },
      },
    },
  }, async (req, reply) => send(req.params.file, reply));
};
