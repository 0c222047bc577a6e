import type { ChainableCommander, Cluster, Command, Redis } from 'ioredis';

/** A group's replies as `multi.exec()` answers them: `[error, value]` per command, in order. */
export type GroupReplies = [Error | null, unknown][];

/**
 * The commands a writer adds to one group of a spread commit (ShardedTx.group), kept to be sent
 * later: in the MULTI…EXEC block of its group inside one pipeline per node (commitByNode). It has
 * every command method of an ioredis pipeline, the client's scripts included, because it inherits
 * them from one real pipeline per client (`template`): each ioredis pipeline otherwise copies
 * every script the client defines onto itself when it is made (~25 here, two methods each), once
 * per group and step, which the profile of a 16-shard commit showed as a cost of its own.
 */
export interface GroupCommands extends ChainableCommander {
  readonly commands: Command[];
}

interface PipelineInternals {
  /** Queues a command made by a command method (ioredis' Pipeline#sendCommand). */
  sendCommand(command: Command): unknown;
  multi(): unknown;
  exec(): Promise<GroupReplies | null>;
}

const templates = new WeakMap<object, object>();

/** A new, empty group of commands for `client` (a Cluster, or one Redis in tests). */
export function recordGroup(client: Redis): GroupCommands {
  let template = templates.get(client);
  if (!template) {
    template = Object.create(client.pipeline(), {
      sendCommand: { value(this: GroupCommands, command: Command) { this.commands.push(command); return this; } },
      exec: { value() { throw new Error('a ShardedTx group is committed by ShardedTx.exec, not on its own'); } },
    }) as object;
    templates.set(client, template);
  }
  return Object.create(template, { commands: { value: [] } }) as GroupCommands;
}

/**
 * Commits each group as one MULTI of its own, the groups in parallel; answers once every group has
 * settled, each group's replies or error in the input's order.
 *
 * The groups whose slots one primary serves go to it in one pipeline of MULTI…EXEC blocks, on the
 * primary's own client: a Cluster's pipeline would check every command's slot again and, when all
 * its commands fail alike (CLUSTERDOWN, a closed connection), resend the whole pipeline itself.
 * A node client does neither: a redirection (MOVED or ASK while a slot moves, TRYAGAIN,
 * CLUSTERDOWN) comes back as its block's error, EXEC then answering EXECABORT (Redis discards the
 * block), and a closed connection fails each block still unanswered. Those groups, and a group
 * alone on its node, are then committed as before, through the Cluster's own MULTI, which follows
 * the redirections. Each block is atomic alone and a group's writes are overwrites (ShardedTx), so
 * a group sent again after a lost connection is what the Cluster's own retry already did.
 */
export function commitByNode(client: Redis, groups: GroupCommands[]): Promise<PromiseSettledResult<GroupReplies>[]> {
  const byNode = new Map<Redis | undefined, number[]>();
  const nodeOf = nodeFinder(client);
  groups.forEach((group, i) => {
    const node = nodeOf(group);
    const list = byNode.get(node);
    if (list) list.push(i);
    else byNode.set(node, [i]);
  });
  const answers: Promise<GroupReplies>[] = new Array(groups.length);
  for (const [node, indexes] of byNode) {
    if (!node || indexes.length < 2) {
      for (const i of indexes) answers[i] = commitAlone(client, groups[i]);
      continue;
    }
    const together = commitOnNode(node, indexes.map((i) => groups[i]));
    indexes.forEach((i, n) => {
      answers[i] = together.then((replies) => replies[n] ?? commitAlone(client, groups[i], true));
    });
  }
  return Promise.allSettled(answers);
}

/**
 * One group's MULTI through the client itself (on a Cluster, one that follows redirections).
 * `again`: its commands were sent before in their node's pipeline, so each is answered anew (as
 * ioredis does when it resends a command).
 */
export async function commitAlone(client: Redis, group: GroupCommands, again = false): Promise<GroupReplies> {
  const multi = client.multi() as unknown as PipelineInternals;
  for (const command of group.commands) {
    if (again) (command as unknown as { initPromise(): void }).initPromise();
    multi.sendCommand(command);
  }
  return ((await multi.exec()) ?? []) as GroupReplies;
}

/** The groups' blocks in one pipeline on `node`: each group's replies, or undefined where its block did not commit. */
async function commitOnNode(node: Redis, groups: GroupCommands[]): Promise<(GroupReplies | undefined)[]> {
  const pipeline = node.pipeline() as unknown as PipelineInternals;
  for (const group of groups) {
    pipeline.multi();
    for (const command of group.commands) pipeline.sendCommand(command);
    pipeline.exec();
  }
  let results: GroupReplies;
  try {
    results = ((await pipeline.exec()) ?? []) as GroupReplies;
  } catch {
    return groups.map(() => undefined);
  }
  let at = 0;
  return groups.map((group) => {
    at += group.commands.length + 2;
    const [err, value] = results[at - 1] ?? [new Error('no reply')];
    if (err) return undefined;
    if (value === null) return [];
    // As ioredis answers a MULTI (its wrapMultiResult): `[error]` for a command that failed, else `[null, value]`.
    return Array.isArray(value) ? value.map((v) => (v instanceof Error ? [v] : [null, v]) as [Error | null, unknown]) : undefined;
  });
}

/**
 * Which client serves a group's slot now: the slot of its first command with a key (every key of a
 * group shares its hash tag), then the primary the Cluster's slot map names. One Redis serves all.
 * Undefined when unknown (no key, or the slot's primary has no client yet): that group goes alone.
 */
function nodeFinder(client: Redis): (group: GroupCommands) => Redis | undefined {
  const cluster = (client as unknown as { isCluster?: boolean }).isCluster ? (client as unknown as Cluster) : undefined;
  if (!cluster) return () => client;
  const byKey = new Map<string, Redis>();
  for (const node of cluster.nodes('master')) byKey.set(`${node.options.host}:${node.options.port}`, node);
  const slots = (cluster as unknown as { slots: string[][] }).slots;
  return (group) => {
    const keyed = group.commands.find((c) => c.getKeys().length > 0);
    const primary = keyed ? slots[keyed.getSlot()]?.[0] : undefined;
    return primary ? byKey.get(primary) : undefined;
  };
}
