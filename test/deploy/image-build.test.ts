// The Dockerfile's build without Docker (no engine on this machine): the build
// context is assembled as `docker build` would (.dockerignore applied), the
// build stage's RUN lines run in it on this Debian 12 + Node.js 20 machine
// (the image's base is Debian 12 + Node.js 20), then the final stage's COPY
// lines lay the image's files out in a directory, and the result is run:
// the agent's whole module graph loads with production dependencies only, the
// agent starts with no lab/ or bench/ in the image (their commands say they
// are not in it), and the loader starts. What this cannot check: the base image itself, and the
// final stage's apt-get (its packages are checked against ldd in
// test/unit/deploy-image.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, buildContextFiles, copyArgs, parseDockerfile } from './manifests.js';

function sh(cmd: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function devDependencies(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  return Object.keys(pkg.devDependencies ?? {});
}

describe('the Dockerfile, built without Docker', { timeout: 900_000 }, () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'sy-image-'));
  const ctx = path.join(tmp, 'src'); // the build stage's WORKDIR /src
  const image = path.join(tmp, 'image'); // the final stage's file system
  const { stages } = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const build = stages[0]!;
  const final = stages[stages.length - 1]!;

  before(async () => {
    // COPY . . : the context, .dockerignore applied.
    for (const rel of buildContextFiles()) {
      const dst = path.join(ctx, rel);
      mkdirSync(path.dirname(dst), { recursive: true });
      copyFileSync(path.join(ROOT, rel), dst);
      chmodSync(dst, statSync(path.join(ROOT, rel)).mode);
    }
    assert.equal(build.instructions.find((i) => i.cmd === 'WORKDIR')?.args, '/src');
    for (const ins of build.instructions) {
      if (ins.cmd === 'COPY') assert.equal(ins.args, '. .', 'the build stage copies the whole context');
      if (ins.cmd !== 'RUN') continue;
      // npm from its cache first: the packages are those of package-lock.json, already fetched by setup.sh here.
      const r = await sh(ins.args, ctx, { ...process.env, npm_config_prefer_offline: 'true' });
      assert.equal(r.code, 0, `RUN ${ins.args}\n${r.out.slice(-4000)}`);
    }
    // The final stage's COPY --from=build lines.
    let workdir = '/';
    for (const ins of final.instructions) {
      if (ins.cmd === 'WORKDIR') workdir = path.posix.resolve(workdir, ins.args);
      if (ins.cmd !== 'COPY') continue;
      const { flags, sources, dest } = copyArgs(ins.args);
      assert.equal(flags['from'], 'build');
      const d = path.posix.resolve(workdir, dest);
      for (const s of sources) {
        assert.ok(s.startsWith('/src/'), s);
        const from = path.join(ctx, s.slice('/src/'.length));
        assert.ok(existsSync(from), `COPY source ${s} exists after the build stage`);
        const into = dest.endsWith('/') || sources.length > 1 ? path.posix.join(d, path.posix.basename(s)) : d;
        mkdirSync(path.dirname(path.join(image, into)), { recursive: true });
        // COPY keeps the files' modification times (the agent's bundle is chosen by them).
        cpSync(from, path.join(image, into), { recursive: true, preserveTimestamps: true });
      }
    }
  });

  after(() => rmSync(tmp, { recursive: true, force: true }));

  const opt = (p: string): string => path.join(image, 'opt/switchyard', p);

  test('production dependencies only', () => {
    assert.ok(existsSync(opt('node_modules/@kubernetes/client-node/package.json')));
    assert.ok(existsSync(opt('node_modules/yaml/package.json')));
    // Dev dependencies are pruned (type packages excepted: some production dependencies depend on @types/*).
    for (const dev of devDependencies().filter((d) => !d.startsWith('@types/'))) {
      assert.ok(!existsSync(opt(`node_modules/${dev}`)), `${dev} (dev) is pruned`);
    }
    assert.ok(devDependencies().includes('typescript'));
  });

  test('the agent\'s module graph loads from the image layout (loader.proto found, every import resolved)', () => {
    const r = spawnSync(process.execPath, [opt('bin/switchyard.js'), 'help'], { encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /switchyard agent --node-name NAME/);
    const a = spawnSync(process.execPath, [opt('bin/switchyard.js'), 'agent'], { encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH } });
    assert.equal(a.status, 2, a.stderr);
    assert.match(a.stderr, /--node-name \(or \$NODE_NAME\) is required/);
  });

  test('the image\'s agent loads from its bundle (made after tsc in the build stage)', () => {
    assert.ok(existsSync(opt('dist/control-plane/agent.bundle.mjs')));
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(opt('dist/cli/agent-entry.js'))}); process.stdout.write(m.agentSource());`],
      { encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'bundle');
  });

  test('the image holds neither the lab nor the benchmarks', () => {
    for (const p of ['lab', 'bench', 'dist/lab', 'dist/bench', 'test', 'dist/test']) assert.ok(!existsSync(opt(p)), `${p} is not in the image`);
    assert.ok(existsSync(opt('dist/cli/main.js')) && existsSync(opt('dist/control-plane/src/cli/agent-command.js')));
  });

  test('the image\'s agent starts without lab/ and stops at its missing kubeconfig', () => {
    // In a network namespace of its own (unshare), so that nothing the agent
    // might touch is the machine's; the API server's kubeconfig is missing,
    // the first thing the agent cannot do without.
    const kubeconfig = path.join(tmp, 'no-such-kubeconfig');
    const r = spawnSync('unshare', ['--net', '--', process.execPath, opt('bin/switchyard.js'), 'agent', '--node-name', 'node1',
      '--kubeconfig', kubeconfig, '--loader-socket', path.join(tmp, 'no-loader.sock'), '--health-bind-address', '127.0.0.1:0'],
    { encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH }, timeout: 120_000, killSignal: 'SIGKILL' });
    assert.equal(r.error, undefined);
    assert.equal(r.status, 1, `${r.signal ?? ''} ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`ENOENT: no such file or directory, open '${kubeconfig}'`));
    assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|Cannot find module/);
  });

  test('lab, cleanup and bench commands say the lab is not in the image', () => {
    for (const argv of [['lab', 'status', '--name', 'nosuchlab'], ['cleanup', '--name', 'nosuchlab'], ['status', '--lab', 'nosuchlab', '--node', '1'], ['bench', '--help']]) {
      const r = spawnSync(process.execPath, [opt('bin/switchyard.js'), ...argv], { encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH } });
      const part = argv[0] === 'bench' ? 'bench' : 'lab';
      assert.equal(r.status, 1, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^switchyard ${argv[0]}: (--lab/--node: )?${part} is not in this image \\(/.*/dist/${part} is missing\\)`), argv.join(' '));
      assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|Cannot find module|\n\s+at /, argv.join(' '));
    }
  });

  test('the loader binary runs', () => {
    const bin = path.join(image, 'usr/local/bin/switchyard-loader');
    const r = spawnSync(bin, [], { encoding: 'utf8' });
    assert.equal(r.error, undefined);
    assert.match(r.stderr + r.stdout, /--instance and --socket are|usage: switchyard-loader/);
  });
});
