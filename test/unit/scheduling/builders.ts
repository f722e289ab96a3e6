// Small fluent builders for the scheduling tests: realistic nodes from the simulator's
// builder (plus the Ready condition kwok would add), pods with GPU requests.
import { buildNodes, type NodeGroup } from '../../../hack/sim/nodes.ts';
import type { NodeView } from '../../../operator/fleet/capacity.ts';
import { slotGroupLabel, type SnapshotPod } from '../../../operator/scheduling/snapshot.ts';

type Taint = NonNullable<NodeGroup['taints']>[number];

class NodeBuilder {
  #group: NodeGroup = { template: 'gpu-container', gpu: 'H100', gpusPerNode: 8, count: 1 };
  #ready = true;
  #cordoned = false;
  readonly #name: string;
  constructor(name: string) {
    this.#name = name;
  }

  gpus(n: number) {
    this.#group = { ...this.#group, gpusPerNode: n };
    return this;
  }
  model(gpu: NonNullable<NodeGroup['gpu']>) {
    this.#group = { ...this.#group, gpu };
    return this;
  }
  /** A vm-passthrough node; `ccReady: false` models CC mode off. */
  confidential(tee: 'snp' | 'tdx', ccReady = true) {
    this.#group = { ...this.#group, template: 'gpu-confidential', tee, ccReady };
    return this;
  }
  labels(labels: Record<string, string>) {
    this.#group = { ...this.#group, labels };
    return this;
  }
  taint(key: string, value: string, effect: Taint['effect'] = 'NoSchedule') {
    this.#group = { ...this.#group, taints: [...(this.#group.taints ?? []), { key, value, effect }] };
    return this;
  }
  notReady() {
    this.#ready = false;
    return this;
  }
  cordoned() {
    this.#cordoned = true;
    return this;
  }

  build(): NodeView {
    const [n] = buildNodes('x', this.#group, 'eu-west', 'eu-west-a');
    const labels = { ...n!.metadata.labels, 'kubernetes.io/hostname': this.#name };
    const conditions = [{ type: 'Ready', status: this.#ready ? 'True' : 'False' }];
    return {
      ...n!,
      metadata: { ...n!.metadata, name: this.#name, labels },
      spec: { ...n!.spec, ...(this.#cordoned ? { unschedulable: true } : {}) },
      status: { ...n!.status, conditions },
    };
  }
}

class PodBuilder {
  #pod: SnapshotPod;
  constructor(name: string, namespace: string) {
    this.#pod = { metadata: { name, namespace }, spec: { containers: [{}] }, status: { phase: 'Pending' } };
  }

  #spec(s: Partial<NonNullable<SnapshotPod['spec']>>) {
    this.#pod = { ...this.#pod, spec: { ...this.#pod.spec!, ...s } };
    return this;
  }
  gpus(n: number, resource = 'nvidia.com/gpu') {
    return this.#spec({ containers: [{ resources: { limits: { [resource]: String(n) } } }] });
  }
  on(node: string) {
    this.#pod = { ...this.#pod, status: { phase: 'Running' } };
    return this.#spec({ nodeName: node });
  }
  nominated(node: string) {
    this.#pod = { ...this.#pod, status: { phase: 'Pending', nominatedNodeName: node } };
    return this;
  }
  phase(phase: string) {
    this.#pod = { ...this.#pod, status: { ...this.#pod.status, phase } };
    return this;
  }
  selector(nodeSelector: Record<string, string>) {
    return this.#spec({ nodeSelector });
  }
  group(group: string) {
    this.#pod = { ...this.#pod, metadata: { ...this.#pod.metadata, labels: { [slotGroupLabel]: group } } };
    return this;
  }
  tolerates(...tolerations: Array<{ key: string; operator: string; effect?: string }>) {
    return this.#spec({ tolerations });
  }
  build(): SnapshotPod {
    return this.#pod;
  }
}

export const node = (name: string) => new NodeBuilder(name);
/** `ns/name`, as the ledger keys pods. */
export const pod = (key: string) => {
  const [ns, name] = key.split('/');
  return new PodBuilder(name!, ns!);
};
export const built = <T>(xs: Array<{ build(): T }>) => xs.map((x) => x.build());
