// Settings journey in a real browser: a newcomer picks a faculty from the reference list, turns
// two-step sign-in on (the code computed here from the secret the page shows, RFC 6238 with
// node:crypto), sees the recovery codes, reads the settings page in Arabic (computed direction
// rtl, screenshot `ar-settings-mfa.png`) and English, then turns two-step sign-in off with a
// recovery code. axe-core runs on every settings state visited, in fr, ar and en.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { PASSWORD, assertAccessible, direction, freshEmail, linkIn, saveScreenshot, signIn, signUp, totp, useLanguage, waitForMail, urlFor } from '../lib/app.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Submits the form whose action is `action` and waits for the page it leads to. */
async function submit(page, action) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(`form[action="${action}"] button[type="submit"]`)]);
}

const nadia = { name: 'Nadia Réglages', email: freshEmail('nadia') };

describe('settings journey', { concurrency: false }, () => {
  test('faculty from the list, two-step sign-in on then off, in fr/ar/en with axe', async () => {
    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    const errors = collectErrors(page);

    await signUp(page, nadia);
    const mail = await waitForMail(nadia.email, /#token=/);
    await page.goto(linkIn(mail));
    await page.waitForURL(/\/sign-in\?verified=1/);
    await signIn(page, nadia.email);
    await page.waitForURL(/\/onboarding$/);
    await page.selectOption('#year_of_study', '3');
    await Promise.all([page.waitForURL(/\/dashboard$/), page.click('form[action="/onboarding"] button[type="submit"]')]);

    // A faculty from the reference list.
    await page.goto(urlFor('/settings'));
    await assertAccessible(page, 'fr settings');
    assert.ok((await page.locator('#faculty option[value="alger-1-med"]').count()) === 1, 'the reference list is offered');
    await page.selectOption('#faculty', 'alger-1-med');
    await submit(page, '/settings/faculty');
    await page.goto(urlFor('/settings'));
    assert.equal(await page.inputValue('#faculty'), 'alger-1-med', 'the faculty is saved');

    // Two-step sign-in on: password, then a code computed from the secret the page shows.
    await page.fill('#mfa_password', PASSWORD);
    await submit(page, '/settings/mfa');
    const secret = (await page.textContent('#totp-secret')).trim();
    assert.match(secret, /^[A-Z2-7 =]+$/i, 'a base32 secret is shown');
    await assertAccessible(page, 'fr settings (TOTP secret)');
    await page.fill('#mfa_code', totp(secret));
    await submit(page, '/settings/mfa/confirm');
    const codes = (await page.locator('#recovery-codes li').allTextContents()).map((c) => c.trim());
    assert.ok(codes.length >= 5, `recovery codes shown once: ${codes}`);
    await assertAccessible(page, 'fr settings (recovery codes)');

    // The settings page with two-step sign-in on, in Arabic and English.
    await page.goto(urlFor('/settings'));
    assert.equal(await page.locator('form[action="/settings/mfa/disable"]').count(), 1, 'two-step sign-in is on');
    await assertAccessible(page, 'fr settings (two-step on)');
    await useLanguage(page, 'ar');
    assert.equal(await direction(page), 'rtl');
    await assertAccessible(page, 'ar settings (two-step on)');
    await saveScreenshot(page, 'ar-settings-mfa');
    await useLanguage(page, 'en');
    assert.equal(await direction(page), 'ltr');
    await assertAccessible(page, 'en settings (two-step on)');
    await useLanguage(page, 'fr');

    // Off again, with one of the recovery codes.
    await page.fill('#disable_password', PASSWORD);
    await page.fill('#disable_code', codes[0]);
    await submit(page, '/settings/mfa/disable');
    await page.goto(urlFor('/settings'));
    assert.equal(await page.locator('form[action="/settings/mfa/disable"]').count(), 0, 'two-step sign-in is off');
    assert.equal(await page.locator('form[action="/settings/mfa"]').count(), 1, 'it can be turned on again');
    await assertAccessible(page, 'fr settings (two-step off)');
    await useLanguage(page, 'ar');
    await assertAccessible(page, 'ar settings (two-step off)');
    await useLanguage(page, 'en');
    await assertAccessible(page, 'en settings (two-step off)');
    assert.equal(await page.inputValue('#faculty'), 'alger-1-med', 'the faculty is still set');

    const seen = errors.stop();
    assert.deepEqual(seen, [], `console errors:\n${seen.join('\n')}`);
    await context.close();
  });
});
