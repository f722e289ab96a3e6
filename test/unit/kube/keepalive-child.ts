// Child of client.test.ts: a script whose only pending work is a request waiting for a
// rate-limit token on the real clock. It must finish, not exit silently mid-request.
import { KubeClient } from '../../../operator/kube/client.ts';
import { resources } from '../../../operator/kube/types.ts';
import { json, kubeConfigFor, loopback } from './loopback.ts';

const server = await loopback(Date.now, (_req, res) => json(res, 200, { kind: 'Namespace', metadata: { name: 'x' } }));
const client = new KubeClient(kubeConfigFor(server.url), { qps: 5, burst: 1 });
await client.get(resources.namespaces, 'x');
await client.get(resources.namespaces, 'x'); // waits ~200 ms for a token, no socket open meanwhile
await client.close();
await server.close();
process.stdout.write('done\n');
