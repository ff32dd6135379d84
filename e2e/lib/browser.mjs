// Shared helpers for the browser end-to-end tests.
//
// The browser is Debian's chromium (/usr/bin/chromium), driven by playwright-core.
// Playwright's own browser download (`npx playwright install`) is never used: it cannot work on
// the build machines, which only reach package registries.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/** Directory where screenshots and other evidence are written (git-ignored). */
export const ARTIFACTS_DIR = process.env.MYQCM_E2E_ARTIFACTS
  ? resolve(process.env.MYQCM_E2E_ARTIFACTS)
  : resolve(here, '..', 'artifacts');

export const CHROMIUM_PATH = process.env.MYQCM_E2E_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Base URL of the server under test, exported by e2e/run.sh. */
export function baseUrl() {
  const url = process.env.MYQCM_E2E_BASE_URL;
  if (!url) {
    throw new Error('MYQCM_E2E_BASE_URL is not set: run the tests through e2e/run.sh BINARY');
  }
  return url.replace(/\/+$/, '');
}

/** Absolute URL for a path on the server under test. */
export function urlFor(path = '/') {
  return baseUrl() + (path.startsWith('/') ? path : `/${path}`);
}

/**
 * Launch Debian's chromium headless. Playwright gives every launch a fresh, empty profile
 * directory, and every context created with newContext() is isolated (no cookies, no storage).
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}

/**
 * A fresh, isolated browser context. Options are passed through (viewport, locale, ...).
 * CSP is enforced: do NOT pass bypassCSP here, the tests must see the page as a user does.
 */
export async function newContext(browser, options = {}) {
  return browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: 'fr-FR',
    ...options,
  });
}

/**
 * Collect console errors and uncaught page errors from a page (and failed requests, which are
 * reported separately because a missing favicon is not a page bug).
 *
 * Call stop() before running anything the test itself injects (axe), so that the check only
 * covers what the application did.
 *
 * `ignore` is a list of predicates (msg) => boolean over console messages. By default only the
 * browser's own automatic GET /favicon.ico failing is ignored: the page did not ask for it. A
 * favicon the page links to explicitly that fails to load is still reported.
 */
export function collectErrors(page, { ignore = [AUTOMATIC_FAVICON] } = {}) {
  const consoleErrors = [];
  const pageErrors = [];
  const failedRequests = [];
  let active = true;

  const onConsole = (msg) => {
    if (active && msg.type() === 'error' && !ignore.some((pred) => pred(msg))) {
      const loc = msg.location();
      consoleErrors.push(`${msg.text()}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
    }
  };
  const onPageError = (err) => {
    if (active) pageErrors.push(String(err && err.stack ? err.stack : err));
  };
  const onRequestFailed = (req) => {
    if (active) failedRequests.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  };

  page.on('console', onConsole);
  page.on('pageerror', onPageError);
  page.on('requestfailed', onRequestFailed);

  return {
    consoleErrors,
    pageErrors,
    failedRequests,
    /** All application errors seen so far (console errors and uncaught exceptions). */
    all() {
      return [...consoleErrors.map((e) => `console: ${e}`), ...pageErrors.map((e) => `pageerror: ${e}`)];
    },
    /** Stop recording; returns the errors recorded while active. */
    stop() {
      active = false;
      page.off('console', onConsole);
      page.off('pageerror', onPageError);
      page.off('requestfailed', onRequestFailed);
      return this.all();
    },
  };
}

/** The browser's implicit favicon request failing (not caused by the page's markup). */
export function AUTOMATIC_FAVICON(msg) {
  const url = msg.location()?.url ?? '';
  return /^Failed to load resource/.test(msg.text()) && /^https?:\/\/[^/]+\/favicon\.ico$/.test(url);
}

let axeSourceCache;
async function axeSource() {
  if (!axeSourceCache) {
    axeSourceCache = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  return axeSourceCache;
}

/**
 * Inject axe-core into the page and return the violations whose impact is serious or critical.
 *
 * The server sends `Content-Security-Policy: default-src 'self'`, which blocks an inline
 * <script> (page.addScriptTag({content})) and eval(). page.evaluate() with a string goes through
 * the DevTools protocol (Runtime.evaluate), which CSP does not govern, so the page keeps its real
 * CSP and no bypassCSP context is needed. Stop any collectErrors() collector first.
 *
 * @param {import('playwright-core').Page} page
 * @param {{ impacts?: string[], runOptions?: object, context?: any }} [opts]
 */
export async function axeViolations(page, opts = {}) {
  const impacts = opts.impacts ?? ['serious', 'critical'];
  const already = await page.evaluate(() => typeof window.axe === 'object' && window.axe !== null);
  if (!already) {
    // Trailing expression keeps the evaluation result a small serialisable string.
    await page.evaluate(`${await axeSource()}\n;'axe-injected'`);
  }
  const violations = await page.evaluate(
    async ({ context, runOptions }) => {
      // eslint-disable-next-line no-undef
      const result = await window.axe.run(context ?? document, runOptions ?? {});
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({
          target: n.target,
          html: n.html,
          failureSummary: n.failureSummary,
        })),
      }));
    },
    { context: opts.context ?? null, runOptions: opts.runOptions ?? null },
  );
  return violations.filter((v) => impacts.includes(v.impact));
}

function truncate(text, max) {
  const s = String(text).replace(/\s+/g, ' ');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Human-readable list of axe violations, for assertion messages. */
export function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .map((n) => `    - ${JSON.stringify(n.target)} ${truncate(n.html, 300)}\n      ${String(n.failureSummary).replace(/\n/g, '\n      ')}`)
        .join('\n');
      return `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes}`;
    })
    .join('\n');
}

/** Save a full-page screenshot as e2e/artifacts/<name>.png and return its path. */
export async function saveScreenshot(page, name) {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const safe = String(name).replace(/[^A-Za-z0-9._-]+/g, '_');
  const path = join(ARTIFACTS_DIR, `${safe}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Save any text (HTML dump, JSON report) into e2e/artifacts/ and return its path. */
export async function saveArtifact(name, content) {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, String(name).replace(/[^A-Za-z0-9._-]+/g, '_'));
  await writeFile(path, content);
  return path;
}
