import { AuthFailedError, RemoteRejectedError, RemoteUnavailableError } from '../../core/errors.js';
import { HttpClient } from '../http.js';
import type { Connection, ConnectorContext } from '../types.js';

export type Domain = unknown[];

/** The few ORM calls the connector makes, over either of Odoo's external APIs. */
export interface OdooTransport {
  searchRead(model: string, domain: Domain, fields: string[], opts: { limit?: number; order?: string }, signal?: AbortSignal): Promise<Record<string, any>[]>;
  create(model: string, vals: Record<string, unknown>, signal?: AbortSignal): Promise<number>;
  write(model: string, ids: number[], vals: Record<string, unknown>, signal?: AbortSignal): Promise<void>;
  /** A record method such as action_confirm, called on ids. */
  action(model: string, method: string, ids: number[], signal?: AbortSignal): Promise<void>;
}

interface RpcError { code?: number; message?: string; data?: { name?: string; message?: string } }

/**
 * Legacy JSON-RPC: `POST /jsonrpc`, `common.login` once for the uid, then
 * `object.execute_kw(db, uid, key, model, method, args, kwargs)`. Errors come back
 * as HTTP 200 with an `error` object; AccessDenied is an auth failure.
 */
export class JsonRpcTransport implements OdooTransport {
  private uid?: Promise<number>;
  private seq = 0;

  constructor(private readonly http: HttpClient, private readonly conn: Connection) {}

  private async rpc<T>(service: string, method: string, args: unknown[], signal?: AbortSignal): Promise<T> {
    const res = await this.http.request<{ result?: T; error?: RpcError }>({
      method: 'POST', url: '/jsonrpc', signal,
      data: { jsonrpc: '2.0', method: 'call', params: { service, method, args }, id: ++this.seq },
    });
    const err = res.data?.error;
    if (err) {
      const what = `${err.data?.name ?? 'error'}: ${err.data?.message ?? err.message ?? 'Odoo Server Error'}`;
      if (/AccessDenied|AccessError/.test(err.data?.name ?? '')) throw new AuthFailedError(this.conn.name, what);
      if (/OperationalError|SerializationFailure|psycopg2/.test(err.data?.name ?? '')) throw new RemoteUnavailableError(`${this.conn.name}: ${what}`);
      throw new RemoteRejectedError(`${this.conn.name}: ${what}`, { status: 400, details: { name: err.data?.name } });
    }
    return res.data?.result as T;
  }

  private login(signal?: AbortSignal): Promise<number> {
    const { database, username, apiKey } = this.conn.credentials;
    this.uid ??= this.rpc<number | false>('common', 'login', [database, username, apiKey], signal).then((uid) => {
      if (!uid) throw new AuthFailedError(this.conn.name, `Odoo refused the login of ${username} to database ${database}`);
      return uid;
    }).catch((err) => {
      this.uid = undefined;
      throw err;
    });
    return this.uid;
  }

  private async kw<T>(model: string, method: string, args: unknown[], kwargs: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const uid = await this.login(signal);
    const { database, apiKey } = this.conn.credentials;
    return this.rpc<T>('object', 'execute_kw', [database, uid, apiKey, model, method, args, kwargs], signal);
  }

  searchRead(model: string, domain: Domain, fields: string[], opts: { limit?: number; order?: string }, signal?: AbortSignal) {
    return this.kw<Record<string, any>[]>(model, 'search_read', [domain], { fields, ...opts }, signal);
  }
  create(model: string, vals: Record<string, unknown>, signal?: AbortSignal) {
    return this.kw<number>(model, 'create', [vals], {}, signal);
  }
  async write(model: string, ids: number[], vals: Record<string, unknown>, signal?: AbortSignal) {
    await this.kw<boolean>(model, 'write', [ids, vals], {}, signal);
  }
  async action(model: string, method: string, ids: number[], signal?: AbortSignal) {
    await this.kw<unknown>(model, method, [ids], {}, signal);
  }
}

/** JSON-2 (Odoo 19+): `POST /json/2/<model>/<method>` with named arguments, bearer API key. */
export class Json2Transport implements OdooTransport {
  constructor(private readonly http: HttpClient) {}

  private async call<T>(model: string, method: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const res = await this.http.request<T>({ method: 'POST', url: `/json/2/${model}/${method}`, data: body, signal });
    return res.data;
  }

  searchRead(model: string, domain: Domain, fields: string[], opts: { limit?: number; order?: string }, signal?: AbortSignal) {
    return this.call<Record<string, any>[]>(model, 'search_read', { domain, fields, ...opts }, signal);
  }
  async create(model: string, vals: Record<string, unknown>, signal?: AbortSignal) {
    const ids = await this.call<number[]>(model, 'create', { vals_list: [vals] }, signal);
    return ids[0];
  }
  async write(model: string, ids: number[], vals: Record<string, unknown>, signal?: AbortSignal) {
    await this.call<boolean>(model, 'write', { ids, vals }, signal);
  }
  async action(model: string, method: string, ids: number[], signal?: AbortSignal) {
    await this.call<unknown>(model, method, { ids }, signal);
  }
}

export function odooTransport(conn: Connection, ctx: ConnectorContext): OdooTransport {
  const json2 = conn.options.api === 'json2';
  const http = new HttpClient({
    connection: conn.name,
    baseURL: conn.baseUrl!,
    settings: conn.http,
    logger: ctx.logger,
    headers: {
      'content-type': 'application/json',
      ...(json2 ? { authorization: `bearer ${conn.credentials.apiKey}`, 'x-odoo-database': conn.credentials.database } : {}),
    },
    describeError: (res) => {
      const d = res.data as { name?: string; message?: string } | undefined;
      return d?.message ? `${d.name ?? 'error'}: ${d.message}` : undefined;
    },
  });
  return json2 ? new Json2Transport(http) : new JsonRpcTransport(http, conn);
}
