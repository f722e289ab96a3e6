// Member-cluster gauges, read at scrape time from the fleet itself (no bookkeeping that
// could drift): whether each member's ready gate is open, whether it is connected, how
// many users (pools) share it and how many connections its client has opened.
import { Gauge, type Registry } from 'prom-client';
import type { Fleet } from './fleet.ts';

/** Registers the nvdax_member_* gauges for `fleet` in `registry`. */
export function registerFleetMetrics(registry: Registry, fleet: Fleet): void {
  const labelNames = ['member'] as const;
  const gauge = (name: string, help: string, value: (m: ReturnType<Fleet['members']>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const m of fleet.members()) this.set({ member: m.name }, value(m));
      },
    });
  gauge(
    'nvdax_member_ready',
    'Ready gate of a member cluster: connected and every cache listed since the last loss',
    (m) => Number(m.ready()),
  );
  gauge('nvdax_member_connected', 'Whether the member cluster answered its last probe or list', (m) =>
    Number(m.health().connected),
  );
  gauge('nvdax_member_users', 'Pools and other users sharing the member cluster', (m) => fleet.usersOf(m).length);
  gauge(
    'nvdax_member_connections_opened',
    'TCP/TLS connections opened by the member client since it was created',
    (m) => m.client.connectionsOpened,
  );
}
