// Errors of the admin API: every failure is a JSON body
// {statusCode, error, message} with a message that names the problem.
import type { FastifyError, FastifyInstance } from 'fastify';
import { LoaderError } from '../dataplane/ebpf/loader-client.js';

export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: REASONS[statusCode] ?? 'Error', message };
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const WHERE: Record<string, string> = { querystring: 'query parameter', params: 'path parameter', body: 'body field', headers: 'header' };

/** One readable sentence per schema violation, naming the field. */
export function describeValidation(errors: AjvError[], context: string, schema?: { properties?: Record<string, unknown> }): string {
  const where = WHERE[context] ?? context;
  return errors.map((e) => {
    const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    switch (e.keyword) {
      case 'additionalProperties': {
        const allowed = schema?.properties ? Object.keys(schema.properties) : [];
        return `unknown ${where} ${JSON.stringify(e.params.additionalProperty)}`
          + (allowed.length ? ` (allowed: ${allowed.join(', ')})` : ` (none allowed)`);
      }
      case 'required':
        return `missing ${where} ${JSON.stringify(e.params.missingProperty)}`;
      case 'format':
        return `${where} ${JSON.stringify(field)} must be ${e.params.format === 'ipv4' ? 'an IPv4 address' : `in ${String(e.params.format)} format`}`;
      case 'enum':
        return `${where} ${JSON.stringify(field)} must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
      case 'minimum':
      case 'maximum':
        return `${where} ${JSON.stringify(field)} must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(e.params.limit)}`;
      case 'type':
        return `${where} ${JSON.stringify(field)} must be ${e.params.type === 'integer' ? 'an integer' : `of type ${String(e.params.type)}`}`;
      case 'pattern':
        if (field.startsWith('filter')) return `${where} "filter" must look like field=value`;
        return `${where} ${JSON.stringify(field)} has the wrong form (expected ${String(e.params.pattern)})`;
      default:
        return `${where} ${field ? JSON.stringify(field) + ' ' : ''}${e.message ?? 'is invalid'}`;
    }
  }).join('; ');
}

/** Installs the JSON error and not-found handlers; `onReject` counts client errors. */
export function installErrorHandlers(app: FastifyInstance, onReject: (route: string, status: number) => void): void {
  app.setErrorHandler((err: FastifyError & { validation?: AjvError[]; validationContext?: string }, req, reply) => {
    const route = req.routeOptions?.url ?? 'unknown';
    let status: number;
    let message: string;
    if (err.validation) {
      const schema = (req.routeOptions?.schema as Record<string, { properties?: Record<string, unknown> }> | undefined)?.[err.validationContext ?? 'querystring'];
      status = 400;
      message = describeValidation(err.validation, err.validationContext ?? 'querystring', schema);
    } else if (err instanceof HttpError) {
      status = err.statusCode;
      message = err.message;
    } else if (err instanceof LoaderError) {
      status = err.code === 'NOT_FOUND' ? 404 : 503;
      message = err.message;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      message = err.message;
    } else {
      status = 500;
      message = err.message || 'internal error';
      req.log.error({ err }, 'admin request failed');
    }
    if (status < 500) onReject(route, status);
    void reply.code(status).type('application/json').send(errorBody(status, message));
  });
  app.setNotFoundHandler((req, reply) => {
    onReject('unknown', 404);
    void reply.code(404).type('application/json')
      .send(errorBody(404, `no route ${req.method} ${req.url.split('?')[0]}; see /openapi.json`));
  });
}
