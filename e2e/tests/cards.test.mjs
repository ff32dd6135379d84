// Activation card journey: finance creates a paid plan through the API, a batch of one card is
// minted with `myqcm admin cards mint` (the command staff use to print cards; its code is shown
// once on standard output), and the demo student types the printed code, in lower case with
// spaces instead of dashes, into the redeem form on /plans, which works without JavaScript.
// The plan is then in force on /plans and on the dashboard; typing the same code again is
// refused with the generic message. axe runs on /plans after each step.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { assertAccessible, signIn, urlFor } from '../lib/app.mjs';
import { createPlan, demoAccount } from '../lib/practice.mjs';

const BIN = process.env.MYQCM_E2E_BIN;

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const PLAN = `e2e-card-${Date.now().toString(36)}`;
const PLAN_NAME = 'Carte E2E';


/** One card for `plan`, as `myqcm admin cards mint` prints it. */
function mintCard(plan) {
  const out = spawnSync(BIN, ['admin', 'cards', 'mint', '--plan', plan, '--count', '1', '--label', 'e2e'], {
    encoding: 'utf8',
    env: process.env,
    timeout: 60_000,
  });
  assert.equal(out.status, 0, `mint failed: ${out.stderr}`);
  const codes = out.stdout.trim().split('\n').filter(Boolean);
  assert.equal(codes.length, 1, out.stdout);
  assert.match(codes[0], /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z*~$=]$/, 'printed in groups');
  return codes[0];
}

describe('activation card journey', { concurrency: false, skip: BIN ? false : 'MYQCM_E2E_BIN not set (run through e2e/run.sh)' }, () => {
  test('a printed card code typed on /plans makes its plan active', async () => {
    const staff = await newContext(browser, { locale: 'fr-FR' });
    await createPlan(staff, { code: PLAN, name: PLAN_NAME, priceDzd: 900, durationDays: 60 });
    await staff.close();
    const code = mintCard(PLAN);

    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    const errors = collectErrors(page);
    const student = await demoAccount('student');
    await signIn(page, student.email, student.password);
    await page.goto(urlFor('/plans'));
    await assertAccessible(page, 'plans before redeeming');
    // Typed the forgiving way: lower case, spaces for dashes.
    await page.fill('#code', code.toLowerCase().replaceAll('-', ' '));
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/plans/redeem"] button[type="submit"]')]);
    assert.match(await page.textContent('#plans-mine + p'), new RegExp(PLAN_NAME), 'the card plan is in force on /plans');
    await assertAccessible(page, 'plans after redeeming');
    await page.goto(urlFor('/dashboard'));
    assert.ok((await page.content()).includes(PLAN_NAME), 'the dashboard names the plan');

    const seen = errors.stop();
    assert.deepEqual(seen, [], `console errors:\n${seen.join('\n')}`);

    // The same code again: refused on the form (a 409 page), nothing changes.
    await page.goto(urlFor('/plans'));
    await page.fill('#code', code);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/plans/redeem"] button[type="submit"]')]);
    assert.ok(await page.$('#code-error'), 'a used code is refused on the form');
    assert.match(await page.textContent('#plans-mine + p'), new RegExp(PLAN_NAME));
    await assertAccessible(page, 'plans with a refused code');
    await context.close();
  });
});
