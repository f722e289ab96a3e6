import { execFileSync } from 'node:child_process';
import test from 'ava';
import { federatedProto } from '../../../operator/training/proto.ts';

test('the generated types match federated.proto', (t) => {
  t.notThrows(() => execFileSync(process.execPath, ['hack/proto/generate.ts', '--check'], { stdio: 'pipe' }));
});

test('the service loads with its one bidirectional method', (t) => {
  const svc = federatedProto().nvdax.training.v1.FederatedCoordinator.service;
  t.deepEqual(Object.keys(svc), ['Join']);
  t.true(svc.Join.requestStream && svc.Join.responseStream);
  t.is(svc.Join.path, '/nvdax.training.v1.FederatedCoordinator/Join');
});
