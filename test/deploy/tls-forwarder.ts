// An HTTPS front for the lab's plain-HTTP API server, for the in-cluster
// configuration test: it presents a certificate signed by the test's CA (the
// ca.crt a pod would find in its service-account directory), requires the
// bearer token of that directory, and forwards the request, watches included,
// to the lab API server's unix socket. One JSON line per event on stdout.
//
//   node tls-forwarder.js --listen HOST:PORT --cert FILE --key FILE --token FILE --upstream SOCKET
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    listen: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' }, upstream: { type: 'string' },
  },
});
const [host, port] = [values.listen!.slice(0, values.listen!.lastIndexOf(':')), Number(values.listen!.slice(values.listen!.lastIndexOf(':') + 1))];
const token = fs.readFileSync(values.token!, 'utf8').trim();
const emit = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const server = https.createServer({ cert: fs.readFileSync(values.cert!), key: fs.readFileSync(values.key!) }, (req, res) => {
  const auth = req.headers.authorization === `Bearer ${token}`;
  emit({ event: 'request', method: req.method, path: req.url, auth });
  if (!auth) {
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
    return;
  }
  const headers = { ...req.headers };
  delete headers.authorization;
  const up = http.request({ socketPath: values.upstream!, path: req.url, method: req.method, headers }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.headers);
    // A watch answers its headers before any event: pass them on at once.
    res.flushHeaders();
    ur.pipe(res);
  });
  up.on('error', (err) => {
    emit({ event: 'upstream-error', error: err.message });
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  res.on('close', () => up.destroy());
  req.pipe(up);
});
server.on('tlsClientError', (err) => emit({ event: 'tls-error', error: err.message }));
server.listen(port, host, () => emit({ event: 'listening', host, port }));
process.on('SIGTERM', () => process.exit(0));
