// A fake Lease store for leader election tests: one Lease with resourceVersion
// semantics; each process gets a client view that can be cut off from it.
import type { KubeClient } from '../../../operator/kube/client.ts';
import { KubeError } from '../../../operator/kube/errors.ts';
import type { KubeObject } from '../../../operator/kube/types.ts';

export type Lease = KubeObject & {
  spec?: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
};

/** One Lease with resourceVersion semantics; each process gets a view that can be cut off. */
export class LeaseServer {
  lease: Lease | undefined;
  rv = 0;
  view(): { client: KubeClient; down: { value: boolean } } {
    const down = { value: false };
    const check = (): void => {
      if (down.value) throw new KubeError(0, 'Network', 'ECONNREFUSED');
    };
    const client = {
      name: 'hub',
      observe: () => () => undefined,
      get: async () => {
        check();
        if (!this.lease) throw KubeError.fromStatus(404, { kind: 'Status', reason: 'NotFound' }, 'GET');
        return structuredClone(this.lease);
      },
      create: async (_r: unknown, obj: Lease) => {
        check();
        if (this.lease) throw KubeError.fromStatus(409, { kind: 'Status', reason: 'AlreadyExists' }, 'POST');
        this.lease = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
      },
      replace: async (_r: unknown, obj: Lease) => {
        check();
        if (obj.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
          throw KubeError.fromStatus(409, { kind: 'Status', reason: 'Conflict' }, 'PUT');
        }
        this.lease = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
      },
    } as unknown as KubeClient;
    return { client, down };
  }
}
