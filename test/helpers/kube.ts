// Small helpers for integration tests that talk to the simulated clusters with
// client-node directly (the operator itself goes through operator/kube).
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

/** Polls `probe` until it returns a value other than undefined/false, or fails with `what` and the last value or error. */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Creates a namespace and waits for its default ServiceAccount (pods are refused until it exists). */
export async function createNamespace(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'nvdax.io/test': 'true' } } } });
  // the controller manager makes it; on a loaded CI machine that can take a while
  await eventually(
    `default ServiceAccount in ${name}`,
    async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: name })) !== undefined,
    90_000,
  );
}

export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => undefined);
}
