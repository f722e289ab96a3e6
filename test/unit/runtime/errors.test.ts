import test from 'ava';
import { ApiException } from '@kubernetes/client-node';
import {
  KubeError,
  TerminalError,
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  isTerminal,
  isUnavailable,
  toKubeError,
} from '../../../operator/kube/errors.ts';

const status = (code: number, reason: string) => ({
  kind: 'Status',
  status: 'Failure',
  code,
  reason,
  message: 'whatever text',
});

test('status codes map to predicates, not message text', (t) => {
  t.true(isNotFound(KubeError.fromStatus(404, status(404, 'NotFound'), 'GET x')));
  t.true(isConflict(KubeError.fromStatus(409, status(409, 'Conflict'), 'PUT x')));
  t.false(isConflict(KubeError.fromStatus(409, status(409, 'AlreadyExists'), 'POST x')));
  t.true(isAlreadyExists(KubeError.fromStatus(409, status(409, 'AlreadyExists'), 'POST x')));
  t.true(isGone(KubeError.fromStatus(410, undefined, 'WATCH x')));
  t.true(isGone(KubeError.fromStatus(500, status(500, 'Expired'), 'LIST x')), 'an expired continue token is Gone');
  t.true(isUnavailable(KubeError.fromStatus(503, undefined, 'GET x')));
  t.true(isUnavailable(KubeError.fromStatus(429, undefined, 'GET x')));
});

test('client-node ApiException is mapped by its code', (t) => {
  const e = new ApiException(404, 'Not Found', JSON.stringify(status(404, 'NotFound')), {});
  t.true(isNotFound(e));
  const k = toKubeError(e);
  t.true(k instanceof KubeError && k.code === 404);
});

test('network and timeout errors become Network and Timeout', (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  t.true(isUnavailable(refused));
  t.is((toKubeError(refused) as KubeError).reason, 'Network');
  const timeout = new DOMException('timed out', 'TimeoutError');
  t.is((toKubeError(timeout) as KubeError).reason, 'Timeout');
  t.false(isNotFound(new Error('404 not found in the message')), 'messages are never parsed');
});

test('terminal: TerminalError anywhere in the cause chain, or invalid requests', (t) => {
  t.true(isTerminal(new TerminalError('bad spec')));
  t.true(isTerminal(new Error('wrapped', { cause: new TerminalError('bad spec') })));
  t.true(isTerminal(KubeError.fromStatus(422, status(422, 'Invalid'), 'PATCH x')));
  t.true(isTerminal(KubeError.fromStatus(400, undefined, 'PATCH x')));
  t.false(isTerminal(KubeError.fromStatus(409, status(409, 'Conflict'), 'PUT x')));
  t.false(isTerminal(KubeError.fromStatus(403, undefined, 'GET x')), 'RBAC may be granted later');
  t.false(isTerminal(new Error('boom')));
});
