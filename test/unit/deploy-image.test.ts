// The Dockerfile: its build stage runs the README's setup script (so every
// run of scripts/test.sh exercises the image's build steps), its build context
// holds what that script needs, and its final stage installs the runtime
// libraries and tools the loader and the agent use.
// test/deploy/image-build.test.ts goes further and runs the build stage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, buildContextFiles, copyArgs, dockerignoreMatcher, parseDockerfile } from '../deploy/manifests.js';

const dockerfile = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const [build, final] = [dockerfile.stages[0]!, dockerfile.stages[dockerfile.stages.length - 1]!];
const setupSh = readFileSync(path.join(ROOT, 'scripts/setup.sh'), 'utf8');

/** Packages an `apt-get install` in the stage installs. */
function aptPackages(stage: typeof final): string[] {
  return stage.instructions.filter((i) => i.cmd === 'RUN').flatMap((i) => {
    const m = /apt-get install ([^&;|]+)/.exec(i.args);
    return m ? m[1]!.split(/\s+/).filter((w) => w && !w.startsWith('-')) : [];
  });
}

test('two stages on Debian bookworm with Node.js 20', () => {
  assert.equal(dockerfile.stages.length, 2);
  assert.equal(build.name, 'build');
  for (const s of dockerfile.stages) assert.match(s.from, /^(docker\.io\/library\/)?node:20-bookworm-slim$/);
  // The final stage copies from the build stage only, never the context.
  for (const i of final.instructions.filter((x) => x.cmd === 'COPY')) assert.equal(copyArgs(i.args).flags['from'], 'build', i.args);
});

test('the build stage runs scripts/setup.sh, as the README\'s commands do', () => {
  const runs = build.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args);
  assert.ok(runs.some((r) => /(^|&&\s*)bash scripts\/setup\.sh --build-only(\s|$)/.test(r)), runs.join('\n'));
  // ...and nothing else builds: no make, tsc or npm ci of its own.
  for (const r of runs) assert.doesNotMatch(r, /\bmake\b|\btsc\b|npm ci|npm install/, r);
  for (const s of ['scripts/test.sh', 'scripts/demo.sh']) {
    assert.match(readFileSync(path.join(ROOT, s), 'utf8'), /bash scripts\/setup\.sh/, `${s} runs setup.sh`);
  }
  // --build-only skips exactly the bpffs mount: same packages, npm ci, make and tsc.
  assert.match(setupSh, /--build-only\) BUILD_ONLY=1/);
  const guarded = [...setupSh.matchAll(/\$BUILD_ONLY[^\n]*\n/g)].map((m) => m[0]);
  assert.equal(guarded.length, 1, guarded.join(''));
  assert.match(guarded[0]!, /mount \| grep -q ' \/sys\/fs\/bpf type bpf'/);
  assert.match(setupSh, /\nmake -s -j"\$\(nproc\)" all\n/);
  assert.match(setupSh, /\nnpx --no-install tsc -p tsconfig\.json\n/);
});

test('.dockerignore keeps outputs out of the context and everything the build needs in it', () => {
  const ignored = dockerignoreMatcher(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));
  for (const p of ['node_modules/yaml/package.json', 'dist/cli/main.js', 'bpf/build/switchyard.bpf.o',
    'loader/build/switchyard-loader', 'lab/build/sy-probe', 'loader/gen/loader.pb-c.c', '.git/HEAD', 'bpf/tc_ingress.o']) {
    assert.ok(ignored(p), `${p} is ignored`);
  }
  const files = new Set(buildContextFiles());
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'Makefile', 'scripts/setup.sh', 'bin/switchyard.js',
    'bpf/Makefile', 'bpf/tc_ingress.c', 'bpf/include/sy_structs.h', 'loader/Makefile', 'loader/loader.proto', 'loader/src/main.c',
    'lab/Makefile', 'cli/main.ts']) {
    assert.ok(files.has(p), `${p} is in the build context`);
  }
  // `make all` builds the BPF test program too (bpf: all test).
  assert.ok([...files].some((f) => f.startsWith('test/bpf/') && f.endsWith('.c')), 'test/bpf sources are in the context');
  assert.ok(![...files].some((f) => f.startsWith('node_modules/') || f.startsWith('dist/')));
});

test('the final stage installs the loader\'s shared libraries and the agent\'s tools', (t) => {
  const apt = new Set(aptPackages(final));
  for (const p of ['iproute2', 'iptables', 'conntrack', 'kmod', 'mount']) assert.ok(apt.has(p), `${p} installed`);
  const loader = path.join(ROOT, 'loader/build/switchyard-loader');
  if (!existsSync(loader)) {
    t.skip('loader not built: run `make -C loader` to check its libraries');
    return;
  }
  // Each library the loader links against comes from a package the stage installs (libc6 is in the base image).
  const libs = execFileSync('ldd', [loader], { encoding: 'utf8' }).split('\n')
    .map((l) => /=>\s+(\/\S+)/.exec(l)?.[1]).filter((x): x is string => !!x);
  assert.ok(libs.length >= 4, libs.join(' '));
  for (const lib of libs) {
    let owner: string;
    try {
      owner = execFileSync('dpkg', ['-S', lib], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]!;
    } catch {
      // usrmerge: /lib/x86_64-linux-gnu/... is registered under /usr/lib/... or the other way round.
      const alt = lib.startsWith('/usr/') ? lib.slice(4) : `/usr${lib}`;
      owner = execFileSync('dpkg', ['-S', alt], { encoding: 'utf8' }).split(':')[0]!;
    }
    if (owner === 'libc6') continue;
    assert.ok(apt.has(owner), `${lib} (package ${owner}) is installed in the final stage`);
  }
});

test('the image runs the agent with production dependencies only, from the paths the code looks up', () => {
  const copies = final.instructions.filter((i) => i.cmd === 'COPY').map((i) => copyArgs(i.args).sources).flat();
  // npm prune --omit=dev in the build stage, then node_modules is copied.
  assert.ok(build.instructions.some((i) => i.cmd === 'RUN' && /npm prune --omit=dev/.test(i.args)));
  for (const need of ['/src/node_modules', '/src/bin', '/src/dist/control-plane', '/src/dist/cli', '/src/package.json',
    // loader-protocol.ts finds loader/loader.proto above dist/; the admin UI finds control-plane/src/admin/ui.
    '/src/loader/loader.proto', '/src/control-plane', '/src/loader/build/switchyard-loader']) {
    assert.ok(copies.includes(need), `${need} is copied into the image`);
  }
});
