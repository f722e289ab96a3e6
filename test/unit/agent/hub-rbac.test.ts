// hack/agent/hub-rbac.yaml: the agent's hub identity reaches its pool by name and its own work
// namespace, and nothing else (the integration test checks the refusals on a real API server).
import test from 'ava';
import { hubRbac } from '../../../hack/agent/hub-rbac.ts';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
type Obj = {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  subjects?: Array<{ name: string; namespace: string }>;
};

test('the agent: its pool by name, Works and their status in its namespace, no Secrets, no cluster-wide write', (t) => {
  const objs = hubRbac('frankfurt-h100', { namespace: 'ops', serviceAccount: 'op' }) as Obj[];
  const text = JSON.stringify(objs);
  t.false(text.includes('__'), 'every token replaced');
  t.false(text.includes('secrets'));
  const role = objs.find((o) => o.kind === 'Role' && o.metadata.name === 'nvdax-agent');
  t.is(role?.metadata.namespace, 'nvdax-pool-frankfurt-h100');
  t.deepEqual(
    role?.rules?.map((r) => [r.resources, r.verbs]),
    [
      [['works'], ['get', 'list', 'watch']],
      [['works/status'], ['get', 'update', 'patch']],
    ],
  );
  const cluster = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'nvdax-agent-frankfurt-h100');
  for (const r of cluster?.rules ?? []) t.deepEqual(r.resourceNames, ['frankfurt-h100'], `${r.resources} by name only`);
  const crb = objs.find((o) => o.kind === 'ClusterRoleBinding');
  t.deepEqual(
    crb?.subjects?.map((s) => [s.namespace, s.name]),
    [['nvdax-pool-frankfurt-h100', 'nvdax-agent']],
  );
  const op = objs.find((o) => o.kind === 'RoleBinding' && o.metadata.name === 'nvdax-operator-work');
  t.deepEqual(
    op?.subjects?.map((s) => [s.namespace, s.name]),
    [['ops', 'op']],
  );
});
