import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { INSTALL_REDIS_HINT, freePort, redisAnswers, redisServerAvailable } from './redis-server.js';

/** One redis-server of a cluster this process started. */
export interface ClusterNode {
  port: number;
  url: string;
  process: ChildProcess;
  /** redis-server's arguments, to start it again the same way. */
  args: string[];
}

/** A Redis Cluster this process started (tests, `npm run chaos -- --cluster`, the bench) and will stop. */
export interface LocalRedisCluster {
  nodes: ClusterNode[];
  /** The seed URLs, one per node: what `redis.cluster` takes. */
  urls: string[];
  dir: string;
  /** The node serving `key`'s slot as primary now (asks the cluster, so it is right after a failover). */
  primaryOf(key: string): Promise<ClusterNode>;
  /** SIGKILLs a node: no shutdown, no last write to disk. */
  kill(node: ClusterNode): void;
  /**
   * Starts a killed node again on its port with its cluster config file: it rejoins the cluster,
   * as a replica of whichever node took its slots over.
   */
  restart(node: ClusterNode): Promise<void>;
  /** Resolves with the replica promoted in place of `killed` once it serves `key`'s slot and every slot is served. */
  waitPromoted(killed: ClusterNode, key: string, timeoutMs?: number): Promise<ClusterNode>;
  /**
   * Resolves once every slot is served (`cluster_state:ok` on every live node) and, with
   * `replicated` (the default), every primary's replica is in sync.
   */
  waitHealthy(opts?: { timeoutMs?: number; replicated?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export function redisCliAvailable(): boolean {
  return spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function clusterStateOk(url: string, replicated: boolean): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  try {
    await r.connect();
    const info = await r.cluster('INFO');
    if (!/cluster_state:ok/.test(info)) return false;
    if (!replicated) return true;
    const replication = await r.info('replication');
    // A primary counts as ready once its replica is attached and in sync (WAIT needs it).
    if (/role:master/.test(replication)) return /slave0:.*state=online/.test(replication);
    return /master_link_status:up/.test(replication);
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * Starts `primaries` × (1 + `replicas`) redis-servers with `--cluster-enabled yes` on free ports
 * (the cluster bus on a port of its own, `cluster-port`, so no port + 10000 arithmetic), their
 * files in a fresh temporary directory, and joins them with `redis-cli --cluster create`.
 * `nodeTimeoutMs` is how long a primary may be silent before its replica takes over.
 */
export async function startRedisCluster(opts: { primaries?: number; replicas?: number; nodeTimeoutMs?: number } = {}): Promise<LocalRedisCluster> {
  try {
    return await startOnce(opts);
  } catch (err) {
    // A free port taken by another process between asking and binding: once more, on other ports.
    if (!/exited with code/.test((err as Error).message)) throw err;
    return startOnce(opts);
  }
}

async function startOnce(opts: { primaries?: number; replicas?: number; nodeTimeoutMs?: number }): Promise<LocalRedisCluster> {
  if (!redisServerAvailable()) throw new Error(INSTALL_REDIS_HINT);
  if (!redisCliAvailable()) throw new Error('redis-cli was not found on PATH (Debian/Ubuntu: `sudo apt-get install redis-tools`)');
  const primaries = opts.primaries ?? 3;
  const replicas = opts.replicas ?? 1;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-cluster-'));
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    for (const n of nodes) if (n.process.exitCode === null && n.process.signalCode === null) n.process.kill('SIGKILL');
    await Promise.all(nodes.map((n) => (n.process.exitCode === null && n.process.signalCode === null ? new Promise((r) => n.process.once('exit', r)) : undefined)));
    if (!process.env.SYNCHUB_KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Every port of the cluster distinct: a port asked for later may be one an earlier node has
    // not bound yet.
    const taken = new Set<number>();
    const distinctPort = async () => {
      let port = await freePort();
      while (taken.has(port)) port = await freePort();
      taken.add(port);
      return port;
    };
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const port = await distinctPort();
      const busPort = await distinctPort();
      const args = [
        '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1500),
        '--dir', dir, '--logfile', `node-${port}.log`, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
      ];
      nodes.push({ port, url: `redis://127.0.0.1:${port}`, process: spawn('redis-server', args, { stdio: 'ignore' }), args });
    }
    for (const n of nodes) {
      const deadline = Date.now() + 10_000;
      while (!(await redisAnswers(n.url, 200))) {
        if (n.process.exitCode !== null) throw new Error(`redis-server exited with code ${n.process.exitCode} (port ${n.port} taken?)`);
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${n.port} within 10 s`);
        await sleep(50);
      }
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`);
  } catch (err) {
    await stop();
    throw err;
  }

  // A process that exits without stop() (a test run cut short) takes its nodes with it.
  const killOnExit = () => {
    for (const n of nodes) if (n.process.exitCode === null && n.process.signalCode === null) n.process.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const cluster: LocalRedisCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    dir,
    async primaryOf(key) {
      for (const n of nodes) {
        if (n.process.exitCode !== null || n.process.signalCode !== null) continue;
        const r = new Redis(n.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
        r.on('error', () => {});
        try {
          const slot = Number(await r.cluster('KEYSLOT', key));
          const ranges = await r.cluster('SLOTS');
          const range = ranges.find(([from, to]) => slot >= from && slot <= to);
          const node = range && nodes.find((x) => x.port === Number(range[2][1]));
          if (node) return node;
        } catch {
          // ask the next node
        } finally {
          r.disconnect();
        }
      }
      throw new Error(`no live node knows the primary of ${key}`);
    },
    kill(node) {
      node.process.kill('SIGKILL');
    },
    async restart(node) {
      node.process = spawn('redis-server', node.args, { stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      while (!(await redisAnswers(node.url, 200))) {
        if (node.process.exitCode !== null) throw new Error(`redis-server exited with code ${node.process.exitCode} on restart (port ${node.port})`);
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${node.port} within 10 s of its restart`);
        await sleep(50);
      }
    },
    async waitPromoted(killed, key, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await cluster.primaryOf(key).catch(() => killed);
        if (now !== killed) {
          await cluster.waitHealthy({ timeoutMs: Math.max(1000, deadline - Date.now()), replicated: false });
          return now;
        }
        if (Date.now() > deadline) throw new Error(`no replica took over from port ${killed.port} within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async waitHealthy({ timeoutMs = 30_000, replicated = true } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
        const states = await Promise.all(live.map((n) => clusterStateOk(n.url, replicated)));
        if (states.every(Boolean)) return;
        if (Date.now() > deadline) throw new Error(`the cluster was not healthy within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      process.off('exit', killOnExit);
      await stop();
    },
  };
  try {
    await cluster.waitHealthy();
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}
