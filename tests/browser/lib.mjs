// Shared helpers of the browser scenarios. Each scenario is a script that tests/it/browser.rs
// runs with `node` against a real `tandem` binary it started; the URLs and credentials come in
// the environment. A scenario prints `ok <name>` and exits 0, or prints what went wrong
// (with a screenshot under TANDEM_ARTIFACTS) and exits 1.
//
// The browser is Debian's chromium (`/usr/bin/chromium`, or CHROMIUM), driven headless by
// playwright-core with a fresh profile; nothing is downloaded.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** A required environment variable. */
export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the Rust test passes it)`);
  return v;
}

const artifacts = process.env.TANDEM_ARTIFACTS || path.resolve('target/browser-artifacts');
fs.mkdirSync(artifacts, { recursive: true });

/**
 * Headless chromium for a scenario. `person()` starts one browser with a fresh profile
 * (`--user-data-dir` in a new temporary folder): its own cookies and storage, like one
 * person at one computer. `close()` stops them all and removes the profiles.
 */
export async function browser() {
  const started = [];
  return {
    async person() {
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-chromium-'));
      const ctx = await chromium.launchPersistentContext(profile, {
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: ARGS,
        viewport: { width: 1280, height: 800 },
      });
      ctx.setDefaultTimeout(10000);
      started.push([ctx, profile]);
      return ctx;
    },
    async close() {
      for (const [ctx, profile] of started) {
        await ctx.close().catch(() => {});
        fs.rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/** Saves a screenshot of `page` as `<name>.png` under the artifacts folder. */
export async function screenshot(page, name) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Runs a scenario: `body(browser)`; on failure, screenshots every open page. */
export async function scenario(name, body) {
  const b = await browser();
  const pages = [];
  const track = (page, label) => { pages.push([page, label]); return page; };
  try {
    await body(b, track);
    console.log(`ok ${name}`);
  } catch (e) {
    console.error(`FAILED ${name}: ${e && e.stack ? e.stack : e}`);
    for (const [page, label] of pages) {
      try { console.error(`screenshot: ${await screenshot(page, `${name}-${label}-failure`)}`); } catch (_) { /* closed */ }
    }
    process.exitCode = 1;
  } finally {
    await b.close();
  }
}

/** Fails with `message` unless `cond`. */
export function check(cond, message) {
  if (!cond) throw new Error(message);
}
