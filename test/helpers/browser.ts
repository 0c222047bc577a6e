import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where browser tests leave their screenshots. */
export const ARTIFACTS = path.resolve('test-artifacts');

/** Debian's Chromium as the environment needs it: headless, as root, and kept off the closed network. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface TestBrowser { context: BrowserContext; page: Page; close(): Promise<void> }

/** Debian's Chromium in a fresh profile, with one page; close() removes the profile. */
export async function openChromium(): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'synchub-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1100 } });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context, page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
