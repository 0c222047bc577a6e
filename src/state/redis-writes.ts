import type { Socket } from 'node:net';
import type { Cluster, Redis } from 'ioredis';

const coalescing = new WeakSet<Socket>();

/**
 * The commands a client sends in one turn of JavaScript (one I/O callback with the promise
 * continuations it runs) leave in one socket write. ioredis writes each command that is not in a
 * pipeline on its own, and each write to the socket is a system call that also wakes Redis: on
 * the webhook path (one process serving, ingesting and pushing) those writes were ~15% of the
 * hub's CPU. Corking the socket until the next tick turns them into one `writev`.
 *
 * Only the transport changes: the bytes go out in the order they were written, so commands,
 * transactions and scripts reach Redis exactly as before (unlike ioredis' enableAutoPipelining,
 * which regroups unawaited commands). The wait is this turn's own work: the writes leave before
 * the event loop takes up any other I/O.
 *
 * Applied to each connection as it connects (ioredis opens a new socket on every reconnect);
 * a Cluster's node clients as they are added.
 */
export function coalesceWrites(client: Redis | Cluster): void {
  if ((client as { isCluster?: boolean }).isCluster) {
    (client as Cluster).on('+node', (node: Redis) => coalesceWrites(node));
    return;
  }
  const redis = client as Redis;
  const onConnect = () => {
    const stream = (redis as unknown as { stream?: Socket }).stream;
    if (stream && !coalescing.has(stream)) corkUntilNextTick(stream);
  };
  redis.on('connect', onConnect);
  onConnect();
}

function corkUntilNextTick(stream: Socket): void {
  coalescing.add(stream);
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  const write = stream.write;
  stream.write = function writeCoalesced(this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked) {
      corked = true;
      this.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}
