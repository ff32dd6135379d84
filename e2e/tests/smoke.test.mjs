// Smoke test: the landing page renders, is valid enough for assistive technology, and is clean.
// Run through e2e/run.sh, which starts the server and sets MYQCM_E2E_BASE_URL.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  axeViolations,
  collectErrors,
  formatViolations,
  launchBrowser,
  newContext,
  saveScreenshot,
  urlFor,
} from '../lib/browser.mjs';

let browser;
let context;
let page;
let response;
let errors;

before(async () => {
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  errors = collectErrors(page);
  response = await page.goto(urlFor('/'), { waitUntil: 'load', timeout: 30_000 });
  // Give late scripts (htmx, deferred code) a moment to report errors.
  await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
});

after(async () => {
  await context?.close();
  await browser?.close();
});

test('landing page answers 200 with HTML', () => {
  assert.ok(response, 'no response for /');
  assert.equal(response.status(), 200, `GET / answered ${response.status()}`);
  assert.match(response.headers()['content-type'] ?? '', /text\/html/);
});

test('landing page has an <h1> and a lang attribute on <html>', async () => {
  const h1 = await page.locator('h1').count();
  assert.ok(h1 >= 1, 'the landing page has no <h1>');
  const h1Text = (await page.locator('h1').first().innerText()).trim();
  assert.ok(h1Text.length > 0, 'the first <h1> is empty');
  const lang = await page.evaluate(() => document.documentElement.getAttribute('lang'));
  assert.ok(lang && lang.trim().length > 0, `<html> has no usable lang attribute (got ${JSON.stringify(lang)})`);
});

test('landing page logs no console error and throws no page error', () => {
  // Stop before axe is injected so the check covers only the application.
  const seen = errors.stop();
  assert.deepEqual(seen, [], `errors on /:\n${seen.join('\n')}`);
});

test('landing page has no serious or critical axe violation', async () => {
  errors.stop();
  const violations = await axeViolations(page);
  assert.equal(violations.length, 0, `axe violations on /:\n${formatViolations(violations)}`);
});

test('landing page screenshot is saved', async () => {
  const path = await saveScreenshot(page, 'landing');
  assert.ok(path.endsWith('landing.png'));
});

test('the legal pages are reached from the footer and pass axe in French and Arabic', async () => {
  for (const locale of ['fr-FR', 'ar-DZ']) {
    const ctx = await newContext(browser, { locale });
    const p = await ctx.newPage();
    const seen = collectErrors(p);
    await p.goto(urlFor('/'), { waitUntil: 'load' });
    for (const href of ['/privacy', '/terms', '/security-policy']) {
      await p.locator(`footer a[href="${href}"]`).click();
      await p.waitForURL(`**${href}`);
      assert.equal(await p.locator('h1').count(), 1, `${href} has one <h1>`);
      assert.ok((await p.locator('article.legal section h2').count()) >= 4, `${href} has its sections`);
      const violations = await axeViolations(p);
      assert.equal(violations.length, 0, `axe violations on ${href} (${locale}):\n${formatViolations(violations)}`);
    }
    assert.ok((await p.content()).includes('contact@myqcm.test'), 'the contact address is published');
    await saveScreenshot(p, `legal-${locale}`);
    const errs = seen.stop();
    assert.deepEqual(errs, [], `errors on the legal pages:\n${errs.join('\n')}`);
    await ctx.close();
  }
});
