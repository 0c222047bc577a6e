import type { ConnectionNotices } from '../notices.js';

/**
 * Shopify "falls forward": a request to a version no longer supported is answered by
 * the oldest supported stable version, with no error (shopify.dev api/usage/versioning).
 * Every answer's `X-Shopify-API-Version` header names the version that executed it; when
 * it differs from the one asked for, the answers come from a schema the connection was
 * not set up against. Reported once per connection (notices.ts) and by `synchub check`.
 */

/** `2026-10`, or `unstable`: anything else in the header is not repeated in logs. */
const VERSION = /^(\d{4}-\d{2}|unstable)$/;

export class ShopifyVersionWatch {
  /** The version the last answer was executed with. */
  served?: string;

  constructor(readonly asked: string, private readonly notices: ConnectionNotices) {}

  /** Reads one answer's header (every answer, errors included). */
  observe(header: string | undefined): void {
    if (header === undefined || header === '') return;
    const served = VERSION.test(header) ? header : 'unrecognised';
    this.served = served;
    if (served === this.asked) return;
    void this.notices.report(`api-version:${this.asked}:${served}`, fallForwardMessage(this.asked, served), { asked: this.asked, served });
  }

  /** What `synchub check` says about the version, once an answer was seen. */
  describe(): string | undefined {
    if (!this.served) return undefined;
    return this.served === this.asked ? `API version ${this.asked}` : fallForwardMessage(this.asked, this.served);
  }
}

export function fallForwardMessage(asked: string, served: string): string {
  return `Shopify answered with API version ${served}, not ${asked} as asked: ${asked} is no longer supported and Shopify falls forward; set apiVersion to a supported version (newest stable: see shopify.dev api/usage/versioning)`;
}
