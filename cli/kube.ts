// The real hub: the user's kubeconfig (kubectl's rules: --kubeconfig, $KUBECONFIG, then
// ~/.kube/config, in-cluster last), the chosen context and namespace, and a KubeClient.
// Imported on demand (see hub.ts): client-node takes a while to load.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeClient } from '../operator/kube/client.ts';
import { loadKubeConfig } from '../operator/kube/load.ts';
import type { ListOptions, WatchOptions } from '../operator/kube/options.ts';
import type { KubeObject, ResourceType } from '../operator/kube/types.ts';
import { CliError } from './hub.ts';
import type { Hub, HubOptions } from './hub.ts';

const serviceAccountToken = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export type KubeconfigSource = { file: string } | { env: string[] } | { inCluster: true };

/** Where the kubeconfig comes from, or a CliError saying why there is none. */
export function locateKubeconfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
  exists: (p: string) => boolean = existsSync,
): KubeconfigSource {
  if (explicit) {
    if (!exists(explicit)) throw new CliError(`kubeconfig "${explicit}" not found`);
    return { file: explicit };
  }
  const fromEnv = (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  if (fromEnv.length) {
    const missing = fromEnv.filter((f) => !exists(f));
    if (missing.length) throw new CliError(`$KUBECONFIG names a file that does not exist: ${missing.join(', ')}`);
    return { env: fromEnv };
  }
  const dflt = join(home, '.kube', 'config');
  if (exists(dflt)) return { file: dflt };
  if (env['KUBERNETES_SERVICE_HOST'] && exists(serviceAccountToken)) return { inCluster: true };
  throw new CliError(
    `no kubeconfig: pass --kubeconfig FILE, set $KUBECONFIG, or create ${dflt} (e.g. with your cloud's "get-credentials")`,
  );
}

/** Connects to the hub the options name; throws CliError for a missing or unusable kubeconfig. */
export function connectHub(opts: HubOptions, env: NodeJS.ProcessEnv = process.env): Hub {
  const source = locateKubeconfig(opts.kubeconfig, env);
  const where = 'file' in source ? source.file : 'env' in source ? source.env.join(delimiter) : 'in-cluster config';
  let kc: ReturnType<typeof loadKubeConfig>;
  try {
    kc = loadKubeConfig('file' in source ? source.file : '', opts.context ?? '');
  } catch (e) {
    throw new CliError(`kubeconfig ${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const context = kc.getCurrentContext();
  const ctx = context ? kc.getContextObject(context) : null;
  if (!ctx || !kc.getCurrentCluster()) {
    const names = kc.getContexts().map((c) => c.name);
    throw new CliError(
      `kubeconfig ${where} has no usable current context; pass --context NAME` +
        (names.length ? ` (contexts: ${names.join(', ')})` : ''),
    );
  }
  const client = new KubeClient(kc, { name: 'hub', fieldManager: 'nvdax-cli' });
  const namespace = opts.namespace || ctx.namespace || 'default';
  return {
    namespace,
    context,
    get: <T extends KubeObject>(res: ResourceType, name: string, ns?: string, signal?: AbortSignal) =>
      client.get<T>(res, name, ns, signal),
    listAll: <T extends KubeObject>(res: ResourceType, o?: Omit<ListOptions, 'continue'>) => client.listAll<T>(res, o),
    watch: <T extends KubeObject>(res: ResourceType, o?: WatchOptions) => client.watch<T>(res, o),
    create: <T extends KubeObject>(res: ResourceType, obj: T) => client.create<T>(res, obj),
    // destroy, not close: an open watch must not keep the process alive
    close: () => client.destroy(),
  };
}
