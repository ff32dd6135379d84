// The commerce admin console in a real browser, without JavaScript being needed: the demo admin
// (finance scope, signed in with a TOTP code, so the step-up is fresh) creates a plan on
// /admin/plans, mints a batch of two cards of it on /admin/cards (the codes are shown once,
// with the printing CSV as a `data:` download link), revokes the batch, and reads
// /admin/payments. axe-core (serious and critical) runs on every page, in French and in Arabic
// (computed direction rtl); screenshots `admin-commerce-*.png` go to the artifacts.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { AUTOMATIC_FAVICON, collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { assertAccessible, direction, saveScreenshot, signIn, visit } from '../lib/app.mjs';
import { demoAccount, freshDemoTotp } from '../lib/practice.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const PLAN = `e2e-admin-${Date.now().toString(36)}`;

async function submit(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

describe('commerce admin console', () => {
  test('an admin creates a plan, mints and revokes a batch, reads the payments; every page is accessible', async () => {
    const ctx = await newContext(browser, { locale: 'fr-FR' });
    const page = await ctx.newPage();
    const errors = collectErrors(page, { ignore: [AUTOMATIC_FAVICON] });
    const { email, password } = await demoAccount('admin');
    await signIn(page, email, password);
    await page.waitForSelector('#totp_code');
    await page.fill('#totp_code', await freshDemoTotp('admin'));
    await submit(page, 'form[action="/sign-in"] button[type="submit"]');

    await visit(page, '/admin/plans', 'fr plans');
    await page.fill('#code', PLAN);
    await page.fill('[id="names.fr"]', 'Formule E2E');
    await page.fill('[id="names.en"]', 'E2E plan');
    await page.fill('[id="names.ar"]', 'باقة');
    await page.fill('#price_dzd', '1200');
    await page.fill('#duration_days', '30');
    await page.fill('#mcq_per_day', '100');
    await submit(page, 'form[action="/admin/plans"] button[type="submit"]');
    assert.ok(page.url().endsWith('/admin/plans'), `created (now on ${page.url()})`);
    assert.ok(await page.$(`a[href="/admin/plans/${PLAN}"]`), 'the new plan is listed');
    await visit(page, `/admin/plans/${PLAN}`, 'fr plan');
    assert.equal(await page.inputValue('#price_dzd'), '1200');

    await visit(page, '/admin/cards', 'fr cards');
    await page.selectOption('#plan', PLAN);
    await page.fill('#count', '2');
    await page.fill('#label', 'e2e');
    await submit(page, 'form[action="/admin/cards"] button[type="submit"]');
    await assertAccessible(page, 'fr minted batch');
    await saveScreenshot(page, 'admin-commerce-minted');
    const codes = await page.$$eval('.card-codes code', (cs) => cs.map((c) => c.textContent));
    assert.equal(codes.length, 2, 'two codes shown');
    const href = await page.getAttribute('a[download]', 'href');
    assert.ok(href.startsWith('data:text/csv'), 'the printing CSV is a download');
    const csv = decodeURIComponent(href.slice(href.indexOf(',') + 1));
    for (const c of codes) assert.ok(csv.includes(`${c},${PLAN},`), `the CSV holds ${c}`);
    await visit(page, '/admin/cards', 'fr cards after mint');
    assert.ok(!(await page.textContent('main')).includes(codes[0]), 'shown once');
    await submit(page, 'form[action$="/revoke"] button[type="submit"]');
    assert.ok(page.url().endsWith('/admin/cards?done=revoked'));
    await assertAccessible(page, 'fr cards revoked');

    const pages = [
      ['/admin/plans', 'plans'],
      [`/admin/plans/${PLAN}`, 'plan'],
      ['/admin/cards', 'cards'],
      ['/admin/payments', 'payments'],
      ['/admin/payments?status=quarantined', 'payments-quarantined'],
    ];
    for (const [path, name] of pages) await visit(page, path, `fr ${name}`);
    await Promise.all([page.waitForNavigation(), page.click('.lang-switch button[value="ar"]')]);
    assert.equal(await page.getAttribute('html', 'lang'), 'ar');
    assert.equal(await direction(page), 'rtl');
    for (const [path, name] of pages) {
      await visit(page, path, `ar ${name}`);
      await saveScreenshot(page, `admin-commerce-ar-${name}`);
    }
    await Promise.all([page.waitForNavigation(), page.click('.lang-switch button[value="fr"]')]);
    assert.deepEqual(errors.stop(), [], 'no console error on the commerce admin pages');
    await ctx.close();
  });
});
