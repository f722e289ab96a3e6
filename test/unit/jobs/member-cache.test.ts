// What the job controller keeps of member objects in its caches: what the rollup, usage, cleanup and the
// progress priority read, and nothing else (a pod's environment and init data stay out of the heap).
import test from 'ava';
import {
  PROGRESS_PRIORITY,
  podEventPriority,
  slimMemberObject,
  workEventPriority,
} from '../../../operator/controllers/jobs/controller.ts';
import type { WorkObject } from '../../../operator/api/resources.ts';
import type { KubeObject } from '../../../operator/kube/types.ts';
import { attemptOf, hubKeyOf } from '../../../operator/materialize/names.ts';

const initData = 'H4sI'.padEnd(1200, 'A');
function pod(ready: boolean, finishedAt?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'n1-abc',
      namespace: 'tenant',
      uid: 'u-1',
      resourceVersion: '42',
      labels: { 'nvdax.io/attempt': '1', 'nvdax.io/job-kind': 'InferenceJob' },
      annotations: { 'io.katacontainers.config.hypervisor.cc_init_data': initData, 'nvdax.io/job': 'ns/n1' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r', controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update' }],
    },
    spec: {
      nodeName: 'node-7',
      runtimeClassName: 'kata-qemu-nvidia-gpu-snp',
      containers: [
        {
          name: 'workload',
          image: 'ghcr.io/x/model@sha256:ab',
          env: Array.from({ length: 20 }, (_, i) => ({ name: `E${i}`, value: 'v'.repeat(60) })),
          resources: { limits: { 'nvidia.com/pgpu': '2', cpu: '4' }, requests: { cpu: '4' } },
        },
        { name: 'gateway', image: 'ghcr.io/x/gw@sha256:cd', resources: { limits: { cpu: '1' } } },
      ],
      volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }],
    },
    status: {
      phase: finishedAt ? 'Succeeded' : 'Running',
      startTime: '2026-11-29T03:00:00Z',
      podIP: '10.0.0.7',
      conditions: [
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2026-11-29T03:00:05Z' },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-11-29T03:00:00Z' },
      ],
      containerStatuses: [
        {
          name: 'workload',
          image: 'ghcr.io/x/model@sha256:ab',
          ready,
          state: finishedAt ? { terminated: { exitCode: 0, finishedAt } } : { running: { startedAt: 'x' } },
        },
      ],
    },
  } as KubeObject;
}

test('a member pod is kept as its GPU limits, times, phase, conditions and labels', (t) => {
  const full = pod(true, '2026-11-29T04:00:00Z');
  const slim = slimMemberObject(full) as KubeObject & Record<string, any>;
  t.deepEqual(slim.metadata, {
    name: 'n1-abc',
    namespace: 'tenant',
    uid: 'u-1',
    resourceVersion: '42',
    labels: { 'nvdax.io/attempt': '1', 'nvdax.io/job-kind': 'InferenceJob' },
    annotations: { 'nvdax.io/job': 'ns/n1' },
  });
  // what the caches index and filter by
  t.is(hubKeyOf(slim), 'ns/n1');
  t.is(attemptOf(slim), 1);
  t.deepEqual(slim.spec, {
    nodeName: 'node-7',
    containers: [{ resources: { limits: { 'nvidia.com/pgpu': '2', cpu: '4' } } }],
  });
  t.deepEqual(slim.status, {
    phase: 'Succeeded',
    startTime: '2026-11-29T03:00:00Z',
    conditions: [
      { type: 'Ready', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
    ],
    containerStatuses: [{ state: { terminated: { finishedAt: '2026-11-29T04:00:00Z' } } }],
  });
  t.true(JSON.stringify(slim).length * 6 < JSON.stringify(full).length, 'a sixth of the pod or less');
});

test('a workload keeps its spec hash, counts and whole status; nothing else of its metadata', (t) => {
  const status = { replicas: 1, readyReplicas: 1, conditions: [{ type: 'Available', status: 'True', message: 'm' }] };
  const kept = {
    name: 'n1',
    namespace: 'tenant',
    uid: 'u-2',
    resourceVersion: '7',
    generation: 3,
    deletionTimestamp: '2026-11-29T05:00:00Z',
    labels: { a: 'b' },
    annotations: { 'nvdax.io/job': 'ns/n1', 'nvdax.io/spec-hash': 'h1' },
  };
  const slim = slimMemberObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      ...kept,
      annotations: { ...kept.annotations, 'deployment.kubernetes.io/revision': '2' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'x' }],
    },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'x', image: 'y' }] } } },
    status,
  } as KubeObject) as KubeObject & Record<string, any>;
  t.deepEqual(slim.metadata, kept);
  t.is(hubKeyOf(slim), 'ns/n1');
  t.deepEqual(slim.spec, { replicas: 2, completions: undefined });
  t.is(slim.status, status);
});

test('a Service keeps whether it is headless (one from an older operator is replaced)', (t) => {
  const svc = (clusterIP: string) =>
    slimMemberObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'n1', namespace: 'tenant', annotations: { 'nvdax.io/job': 'ns/n1' } },
      spec: { clusterIP, ports: [{ port: 8443 }], selector: { a: 'b' } },
    } as KubeObject) as KubeObject & Record<string, any>;
  t.deepEqual(svc('None').spec, { clusterIP: 'None' });
  t.deepEqual(svc('10.0.0.9').spec, { clusterIP: '10.0.0.9' });
  t.is(hubKeyOf(svc('None')), 'ns/n1');
});

test('the progress priority reads the slim pods: Ready or phase moved, or the pod started going', (t) => {
  const s = (p: KubeObject) => slimMemberObject(p);
  t.is(podEventPriority(s(pod(true)), s(pod(false))), PROGRESS_PRIORITY);
  t.is(podEventPriority(s(pod(true)), s(pod(true))), 0);
  t.is(podEventPriority(s(pod(false, '2026-11-29T04:00:00Z')), s(pod(false))), PROGRESS_PRIORITY);
  const going = pod(true) as KubeObject;
  going.metadata = { ...going.metadata, deletionTimestamp: '2026-11-29T05:00:00Z' };
  t.is(podEventPriority(s(going), s(pod(true))), PROGRESS_PRIORITY);
  t.is(podEventPriority(s(pod(true))), 0, 'an add is not progress');
});

test("an agent's Work report is progress when a workload, a pod or a condition moved, not when it only renews", (t) => {
  const work = (ready: number, phase = 'Running', updateTime = '2026-11-29T06:00:00Z', applied = 'True') =>
    ({
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'Work',
      metadata: { name: 'w', namespace: 'nvdax-system' },
      spec: { pool: 'p', job: { kind: 'InferenceJob', namespace: 'ns', name: 'j' }, attempt: 1, manifests: [] },
      status: {
        conditions: [
          { type: 'Applied', status: applied, reason: 'Applied', message: '', lastTransitionTime: updateTime },
        ],
        objects: [
          { kind: 'Deployment', name: 'j', namespace: 't', desired: 1, readyReplicas: ready, labels: { a: 'b' } },
        ],
        pods: [{ name: 'j-0', phase, gpus: 1 }],
        updateTime,
        signature: `0x${updateTime.length}`,
      },
    }) as unknown as WorkObject;
  t.is(workEventPriority(work(1), work(0)), PROGRESS_PRIORITY, 'a replica became ready');
  t.is(workEventPriority(work(1, 'Succeeded'), work(1)), PROGRESS_PRIORITY, 'a pod finished');
  t.is(workEventPriority(work(1, 'Running', '2026-11-29T06:00:00Z', 'False'), work(1)), PROGRESS_PRIORITY);
  t.is(workEventPriority(work(1, 'Running', '2026-11-29T06:01:30Z'), work(1)), 0, 'a renewed report');
  t.is(workEventPriority(work(1)), 0, 'an add is not progress');
});
