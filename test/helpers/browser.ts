import path from 'node:path';

/** Where browser tests leave their screenshots. */
export const ARTIFACTS = path.resolve('test-artifacts');

/** Debian's Chromium as the environment needs it: headless, as root, and kept off the closed network. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
