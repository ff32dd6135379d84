// Online payment journey against the fake Chargily server that e2e/run.sh starts when it finds
// `myqcm-fakes` beside the binary (MYQCM_E2E_CHARGILY set): finance creates a paid plan through
// the API; the demo student opens /plans, follows the payment link to /billing, chooses the plan,
// follows the link to the fake hosted checkout page, presses Pay; the fake posts the signed
// webhook and sends the browser back to /billing/return, which shows the payment confirmed; the
// plan is then the learner's plan on /plans and the dashboard. axe runs on the billing pages.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { assertAccessible, signIn, urlFor } from '../lib/app.mjs';
import { createPlan, demoAccount } from '../lib/practice.mjs';

const FAKE = process.env.MYQCM_E2E_CHARGILY;

let browser;
before(async () => {
  if (FAKE) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const PLAN = `e2e-month-${Date.now().toString(36)}`;
const PLAN_NAME = 'Premium E2E';


describe('billing journey', { concurrency: false, skip: FAKE ? false : 'no fake Chargily (myqcm-fakes not beside the binary)' }, () => {
  test('plan → fake checkout → Pay → webhook → the plan is active', async () => {
    const staff = await newContext(browser, { locale: 'fr-FR' });
    await createPlan(staff, { code: PLAN, name: PLAN_NAME, priceDzd: 1500, durationDays: 30 });
    await staff.close();

    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    const errors = collectErrors(page);
    // The demo student (no sign-up: sign-ups are limited per IP and the suite is at the limit).
    const student = await demoAccount('student');
    await signIn(page, student.email, student.password);

    await page.goto(urlFor('/plans'));
    await Promise.all([page.waitForURL(/\/billing$/), page.click('#plans-pay-online')]);
    await assertAccessible(page, 'billing');
    await Promise.all([
      page.waitForURL(/\/billing\/pay\//),
      page.click(`li[data-plan="${PLAN}"] form[action="/billing/checkout"] button[type="submit"]`),
    ]);
    await assertAccessible(page, 'billing pay');
    const href = await page.getAttribute('#pay-link', 'href');
    assert.ok(href.startsWith(FAKE), `the link leads to the checkout page (${href})`);

    await Promise.all([page.waitForURL(/\/test\/checkouts\/.+\/pay$/), page.click('#pay-link')]);
    assert.match(await page.textContent('#amount'), /1500 DZD/);
    await Promise.all([page.waitForURL(/\/billing\/return\?intent=/), page.click('#pay')]);
    await page.waitForSelector('#payment-status[data-status="paid"]', { timeout: 15_000 });
    await assertAccessible(page, 'billing return');

    await page.goto(urlFor('/plans'));
    assert.match(await page.textContent('#plans-mine + p'), new RegExp(PLAN_NAME), 'the plan is in force on /plans');
    await page.goto(urlFor('/dashboard'));
    assert.ok((await page.content()).includes(PLAN_NAME), 'the dashboard names the plan');
    const seen = errors.stop();
    assert.deepEqual(seen, [], `console errors:\n${seen.join('\n')}`);
    await context.close();
  });
});
