// The image without a container builder: the Dockerfile's shape (multi-stage, production
// dependencies only, non-root, pinned Node), the build context .dockerignore leaves, and the
// runtime stage's file tree emulated on disk — the COPYed folders plus only the production
// dependencies of package-lock.json — in which every entrypoint the charts name must load.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { one, projectRoot, render, type Obj } from '../../../hack/charts/helm.ts';

const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

/** The Dockerfile's instructions (continuations joined, comments dropped), by stage. */
function stages(): Stage[] {
  const joined = dockerfile
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const out: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1] as string, name: from[2] ?? String(out.length), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** A .dockerignore pattern as Go's filepath.Match with Docker's `**`: `*` matches dot files too. */
function globRe(p: string): RegExp {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '*' && p[i + 1] === '*') {
      re += '.*';
      i++;
      if (p[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
const matchesGlob = (path: string, p: string) => globRe(p).test(path);

/** .dockerignore as Docker reads it: the last pattern matching a path or one of its parents decides. */
function ignored(path: string, patterns: string[]): boolean {
  let out = false;
  const parts = path.split('/');
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const p = (neg ? raw.slice(1) : raw).replace(/\/$/, '');
    const hit = parts.some((_, i) => matchesGlob(parts.slice(0, i + 1).join('/'), p));
    if (hit) out = !neg;
  }
  return out;
}

function dockerignore(): string[] {
  return readFileSync(join(projectRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Files of the build context (what `docker build .` sends), relative to the project root. */
function contextFiles(): string[] {
  const pats = dockerignore();
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(projectRoot, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === '.git') continue;
      if (e.isDirectory()) {
        // a folder excluded with no later re-inclusion beneath it is not walked (node_modules, .sim…)
        if (ignored(p, pats) && !pats.some((x) => x.startsWith(`!${p}/`) || x.startsWith(`!${p.split('/')[0]}`)))
          continue;
        walk(p);
      } else if (!ignored(p, pats)) out.push(p);
    }
  };
  walk('');
  return out.sort();
}

test('multi-stage: production dependencies built apart, a runtime stage that runs as non-root', (t) => {
  const s = stages();
  t.true(s.length >= 2, 'at least a build and a runtime stage');
  const [deps, runtime] = [s[0] as Stage, s.at(-1) as Stage];
  t.true(deps.lines.some((l) => /npm ci\b.*--omit=dev/.test(l) && l.includes('--ignore-scripts')));
  // the final stage takes node_modules from the build stage, never installs
  t.true(runtime.lines.some((l) => new RegExp(`COPY --from=${deps.name}\\b.*node_modules`).test(l)));
  t.false(runtime.lines.some((l) => /\bnpm (ci|install)\b/.test(l)));
  const user = runtime.lines.filter((l) => l.startsWith('USER ')).at(-1);
  t.truthy(user, 'USER in the runtime stage');
  t.notRegex(user ?? '', /^USER\s+(0|root)\b/);
  t.regex(user ?? '', /^USER\s+[1-9][0-9]*(:[1-9][0-9]*)?$/, 'a numeric uid, so runAsNonRoot can verify it');
  // the same Node as the project pins (package.json devDependency `node`)
  const pinned = (
    JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    }
  ).devDependencies['node'];
  t.regex(dockerfile, new RegExp(`^ARG NODE_VERSION=${pinned?.replaceAll('.', '\\.')}$`, 'm'));
  for (const st of s) t.regex(st.from, /^node:\$\{NODE_VERSION\}-/);
  t.regex(dockerfile, /^ENTRYPOINT \["node"\]$/m);
  t.regex(dockerfile, /^CMD \["operator\/main\.ts"\]$/m);
});

test('.dockerignore: the context is the sources the image copies, no tests, state or node_modules', (t) => {
  const files = contextFiles();
  t.true(files.includes('package-lock.json'));
  t.true(files.includes('operator/main.ts'));
  t.true(files.some((f) => f.startsWith('contracts/artifacts/')));
  for (const f of files) {
    t.false(f.endsWith('.test.ts'), f);
    t.false(/^(\.sim|\.sim-test|\.sim-bench|\.kind|node_modules|test|bench|hack|docs|\.git)\//.test(f), f);
    t.false(f.startsWith('contracts/') && !f.startsWith('contracts/artifacts/'), `${f}: Solidity sources stay out`);
  }
  const bytes = files.reduce((n, f) => n + statSync(join(projectRoot, f)).size, 0);
  t.true(bytes < 20 * 1024 * 1024, `context ${bytes} bytes`);
  // every COPY source of the context is in the context
  for (const l of (stages().at(-1) as Stage).lines.concat((stages()[0] as Stage).lines)) {
    const m = /^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+\S+$/.exec(l);
    if (!m) continue;
    for (const src of (m[1] as string).split(/\s+/)) {
      const s = src.replace(/\/$/, '');
      t.true(
        files.some((f) => f === s || f.startsWith(`${s}/`)),
        `COPY ${src}: not in the build context`,
      );
    }
  }
});

/** The runtime stage on disk: COPYed context paths and the production packages of the lockfile. */
function emulateImage(): string {
  const root = mkdtempSync(join(tmpdir(), 'nvdax-image-'));
  const files = contextFiles();
  const runtime = stages().at(-1) as Stage;
  for (const l of runtime.lines) {
    const m = /^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+(\S+)$/.exec(l);
    if (!m) continue;
    for (const src of (m[1] as string).split(/\s+/)) {
      const s = src.replace(/\/$/, '');
      for (const f of files.filter((x) => x === s || x.startsWith(`${s}/`))) {
        mkdirSync(dirname(join(root, f)), { recursive: true });
        cpSync(join(projectRoot, f), join(root, f));
      }
    }
  }
  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  for (const [key, p] of Object.entries(lock.packages)) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
    if (!m || p.dev || p.devOptional) continue;
    const dest = join(root, 'node_modules', m[1] as string);
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync(join(projectRoot, key), dest);
  }
  return root;
}

test('every entrypoint the charts name loads in the emulated runtime stage (no dev dependency, no missing folder)', (t) => {
  const img = emulateImage();
  try {
    t.false(existsSync(join(img, 'node_modules', 'ava')), 'dev dependencies are not in the image');
    t.false(existsSync(join(img, 'test')));
    t.true(existsSync(join(img, 'node_modules', '@kubernetes', 'client-node')));
    const node = (args: string[]) =>
      spawnSync(process.execPath, args, {
        cwd: img,
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env['PATH'] ?? '' },
      });
    // the operator chart's command, with --help: every import of operator/main.ts resolves
    const op = one(render('nvdax-operator'), 'Deployment') as Obj & {
      spec: { template: { spec: { containers: Array<{ command: string[] }> } } };
    };
    const cmd = op.spec.template.spec.containers[0]?.command ?? [];
    t.is(cmd[0], 'node');
    const r = node([...cmd.slice(1), '--help']);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /nvdax operator/);
    const cli = node(['cli/nvdax.ts', '--help']);
    t.is(cli.status, 0, cli.stderr);
    // the agent's entrypoint lives in a folder the image copies; once written it must load there too
    const agent = one(render('nvdax-provider', { valuesFiles: ['examples/minimal.yaml'] }), 'Deployment') as Obj & {
      spec: { template: { spec: { containers: Array<{ command: string[] }> } } };
    };
    const agentCmd = agent.spec.template.spec.containers[0]?.command ?? [];
    t.deepEqual(agentCmd, ['node', 'provider-runtime/agent/main.ts']);
    t.true(existsSync(join(img, 'provider-runtime')), 'provider-runtime/ is in the image');
    if (existsSync(join(projectRoot, 'provider-runtime', 'agent', 'main.ts'))) {
      const a = node([...agentCmd.slice(1), '--help']);
      t.is(a.status, 0, a.stderr);
    }
    // and the emulation can fail: a module the image lacks is not found
    const missing = node(['-e', "import('fast-check').then(() => process.exit(0), () => process.exit(3))"]);
    t.is(missing.status, 3, 'a dev dependency does not resolve in the image');
  } finally {
    rmSync(img, { recursive: true, force: true });
  }
});
