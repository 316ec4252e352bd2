// The Vagrant cluster as far as it can be checked without VMs: `vagrant
// validate`, shellcheck on the provisioning scripts and the repository's
// scripts, the cluster's shape (kubeadm without kube-proxy), and the
// Switchyard overlay the control plane applies (rendered with kubectl when it
// is installed). Tools that are missing skip with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseSwitchyardConfig } from '../../control-plane/src/config/kube-proxy-config.js';
import { ROOT, find, type Obj } from '../deploy/manifests.js';

const vagrantfile = readFileSync(path.join(ROOT, 'Vagrantfile'), 'utf8');
const script = (name: string): string => readFileSync(path.join(ROOT, 'vagrant', name), 'utf8');

function have(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined;
}

test('vagrant validate', { timeout: 120_000 }, (t) => {
  if (!have('vagrant')) {
    t.skip('vagrant is not installed (Debian: apt-get install vagrant)');
    return;
  }
  // --ignore-provider: no VirtualBox or libvirt here; the provisioners' paths are still checked.
  // Vagrant keeps machine state in .vagrant/ beside the Vagrantfile: put it in a temporary directory instead.
  const dot = mkdtempSync(path.join(tmpdir(), 'sy-vagrant-'));
  try {
    const r = spawnSync('vagrant', ['validate', '--ignore-provider'], {
      cwd: ROOT, encoding: 'utf8',
      env: { ...process.env, VAGRANT_CHECKPOINT_DISABLE: '1', VAGRANT_NO_COLOR: '1', VAGRANT_DOTFILE_PATH: path.join(dot, '.vagrant') },
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Vagrantfile validated successfully/);
  } finally {
    rmSync(dot, { recursive: true, force: true });
  }
});

test('shellcheck: vagrant/*.sh and scripts/*.sh', (t) => {
  if (!have('shellcheck')) {
    t.skip('shellcheck is not installed (Debian: apt-get install shellcheck)');
    return;
  }
  const files = [
    ...readdirSync(path.join(ROOT, 'vagrant')).filter((f) => f.endsWith('.sh')).map((f) => `vagrant/${f}`),
    ...readdirSync(path.join(ROOT, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => `scripts/${f}`),
  ];
  assert.ok(files.length >= 7, files.join(' '));
  const r = spawnSync('shellcheck', ['--severity=style', ...files], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the Vagrantfile sets box, size, Kubernetes version and CIDRs at the top, and provisions three nodes', () => {
  const head = vagrantfile.slice(0, vagrantfile.indexOf('Vagrant.configure'));
  for (const v of ['BOX', 'CPUS', 'MEMORY_MB', 'K8S_VERSION', 'POD_CIDR', 'SERVICE_CIDR', 'WORKERS']) {
    assert.match(head, new RegExp(`^${v}\\s+=`, 'm'), `${v} is set before Vagrant.configure`);
  }
  assert.match(head, /^WORKERS\s+=.*"2"/m, 'two workers by default');
  for (const p of [...vagrantfile.matchAll(/path: "([^"]+)"/g)].map((m) => m[1]!)) {
    assert.doesNotThrow(() => readFileSync(path.join(ROOT, p)), `${p} exists`);
  }
});

test('kubeadm without kube-proxy, pkgs.k8s.io packages, a CNI that needs no kube-proxy', () => {
  const cp = script('control-plane.sh');
  assert.match(cp, /kubeadm init[\s\S]*--skip-phases addon\/kube-proxy/);
  assert.match(cp, /--pod-network-cidr "\$POD_CIDR"/);
  assert.match(cp, /--service-cidr "\$SERVICE_CIDR"/);
  const node = script('node.sh');
  assert.match(node, /pkgs\.k8s\.io\/core:\/stable:\/v\$\{K8S_VERSION\}\/deb/);
  assert.match(node, /apt-get install[^\n]*kubelet kubeadm kubectl/);
  assert.match(node, /"type": "bridge"/);
  assert.match(node, /"type": "host-local"/);
  assert.match(node, /ip route replace/);
  assert.match(script('worker.sh'), /kubeadm join/);
  // The image comes from the repository's Dockerfile, built on each node.
  assert.match(script('build-image.sh'), /buildah build [^\n]*-f "\$SRC\/Dockerfile"/);
  assert.match(script('build-image.sh'), /ctr -n k8s\.io images import/);
  // Switchyard from deploy/.
  assert.match(script('install-switchyard.sh'), /\$SRC\/deploy/);
  assert.match(script('install-switchyard.sh'), /kubectl apply -k "\$OVERLAY"/);
  // The smoke test checks ClusterIP and NodePort, from a pod and from the host.
  const smoke = script('smoke.sh');
  for (const what of ['ClusterIP TCP from a pod', 'ClusterIP UDP from a pod', 'NodePort $ip:$NODEPORT from a pod', 'NodePort $ip:$NODEPORT from this host']) {
    assert.ok(smoke.includes(what), what);
  }
});

test('the control plane\'s overlay renders: image, API server address, node device, mode', (t) => {
  if (!have('kubectl')) {
    t.skip('kubectl is not installed (it renders the kustomize overlay)');
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'sy-overlay-'));
  try {
    const out = execFileSync('bash', [path.join(ROOT, 'vagrant/install-switchyard.sh')], {
      encoding: 'utf8',
      env: {
        ...process.env, SWITCHYARD_RENDER_ONLY: '1', SWITCHYARD_OVERLAY: dir, SWITCHYARD_SRC: ROOT, SWITCHYARD_IFACE: 'eth1',
        NODE_NAME: 'cp', NODE_IP: '192.168.56.10', CONTROL_PLANE_IP: '192.168.56.10', POD_CIDR: '10.244.0.0/16',
        SWITCHYARD_IMAGE: 'localhost/switchyard:test', SWITCHYARD_MODE: 'ebpf',
      },
    });
    const objs = parseAllDocuments(out).map((d) => d.toJS() as Obj);
    const ds = find(objs, 'DaemonSet', 'switchyard');
    for (const c of ds['spec']['template']['spec']['containers'] as Obj[]) assert.equal(c['image'], 'localhost/switchyard:test');
    const api = objs.find((o) => o['kind'] === 'ConfigMap' && String(o['metadata']['name']).startsWith('switchyard-apiserver'));
    assert.deepEqual(api?.['data'], { KUBERNETES_SERVICE_HOST: '192.168.56.10', KUBERNETES_SERVICE_PORT: '6443' });
    assert.equal(objs.filter((o) => o['kind'] === 'ConfigMap').length, 2, 'the generator was replaced, not added');
    const cfg = parseSwitchyardConfig(find(objs, 'ConfigMap', 'switchyard-config')['data']['config.yaml'], 'overlay config.yaml');
    assert.deepEqual(cfg.devices, ['eth1', 'veth+']);
    assert.equal(cfg.mode, 'ebpf');
    assert.equal(cfg.clusterCIDR, '10.244.0.0/16');
    assert.deepEqual(cfg.ignored, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
