// Debian's Chromium, driven by playwright-core (no browser download): headless, no
// sandbox (tests run as root), nothing that talks to the network on its own. Playwright
// gives every launch a fresh temporary profile and removes it on close.
import { chromium } from 'playwright-core';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium; `extraArgs` for test-specific switches (e.g. trusting a test CA). */
export async function launch(extraArgs = []) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...ARGS, ...extraArgs],
    timeout: 60_000,
  });
  // The browser must not outlive the test, whatever happens.
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => browser.close().finally(() => process.exit(1)));
  }
  return browser;
}

/** How long a page may take to show what the test waits for. */
export const PATIENCE_MS = 20_000;
