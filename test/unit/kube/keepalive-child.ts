// Child of client.test.ts: a script whose only pending work is a request waiting for a
// rate-limit token on the real clock (the server runs in the parent, so nothing else here
// keeps the process alive). It must finish, not exit silently mid-request.
import { KubeClient } from '../../../operator/kube/client.ts';
import { resources } from '../../../operator/kube/types.ts';
import { kubeConfigFor } from './loopback.ts';

const client = new KubeClient(kubeConfigFor(process.argv[2] ?? ''), { qps: 5, burst: 1, keepAliveTimeoutMs: 1 });
await client.get(resources.namespaces, 'x');
await client.get(resources.namespaces, 'x'); // waits ~200 ms for a token
await client.close();
process.stdout.write('done\n');
