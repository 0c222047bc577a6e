import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keyring } from '../core/crypto.js';

/** What every process of a connection shares about its OAuth token. */
export interface SharedToken {
  accessToken: string;
  /** Epoch ms after which the access token is not used any more (expiry minus the margin); null: until refused. */
  expiresAt: number | null;
  /** The refresh token that goes with it, when the grant rotates one. */
  refreshToken?: string;
  /** keyring.mac of the config's refresh token this pair descends from: a new one in config wins over the stored pair. */
  seed?: string;
}

/**
 * One connection's token in Redis, shared by every worker and process of the hub:
 * - the token (and, for rotating refresh tokens, the refresh token) is sealed with the keyring,
 *   and access and refresh token are written together in one SET, so the pair is never half new;
 * - a lock (SET NX PX) makes one process at a time ask the token endpoint; the others wait for
 *   it and then read what it stored, so a refresh token is never sent twice.
 * Keys: `<prefix>:oauth:<connection>` (the sealed token) and `…:lock`; no command touches both,
 * so they need no common hash slot.
 */
export class RedisTokenStore {
  private readonly key: string;
  private readonly lockKey: string;
  private readonly aad: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly keyring: Keyring,
    connection: string,
    /** Longest a token request may hold the lock; a crashed holder's lock lapses after it. */
    private readonly lockMs = 30_000,
  ) {
    this.key = `${prefix}:oauth:${connection}`;
    this.lockKey = `${this.key}:lock`;
    this.aad = `oauth-token:${connection}`;
  }

  /** Fingerprint of a config secret, to tell whether the stored pair descends from it. */
  seedOf(secret: string): string {
    return this.keyring.mac(`oauth-seed:${secret}`);
  }

  async read(): Promise<SharedToken | undefined> {
    const sealed = await this.redis.get(this.key);
    if (!sealed) return undefined;
    return JSON.parse(this.keyring.decrypt(sealed, this.aad)) as SharedToken;
  }

  async write(token: SharedToken): Promise<void> {
    await this.redis.set(this.key, this.keyring.encrypt(JSON.stringify(token), this.aad));
  }

  /** Runs `fn` while holding the connection's token lock, waiting for another holder to finish. */
  async withLock<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const owner = randomUUID();
    const deadline = Date.now() + this.lockMs * 2;
    for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
      if ((await this.redis.set(this.lockKey, owner, 'PX', this.lockMs, 'NX')) === 'OK') break;
      signal?.throwIfAborted();
      if (Date.now() > deadline) throw new Error(`the token lock of ${this.lockKey} was not released within ${this.lockMs * 2} ms`);
      await new Promise((r) => setTimeout(r, wait));
    }
    try {
      return await fn();
    } finally {
      // Only our own lock: after a lapse another process may hold it.
      await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0", 1, this.lockKey, owner).catch(() => {});
    }
  }
}
