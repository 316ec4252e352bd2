// "host:port" flags.
export function parseBindAddress(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = i > 0 ? s.slice(0, i) : '0.0.0.0';
  const port = Number(i >= 0 ? s.slice(i + 1) : s);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid bind address ${JSON.stringify(s)}`);
  return { host: host.replace(/^\[|\]$/g, ''), port };
}
