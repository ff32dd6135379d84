// Account journeys in a real browser (Debian chromium): sign-up, the verification mail read from
// the mail folder, verification by the mail's link, sign-in, onboarding, the dashboard; wrong
// then right password; reset through the mail's link; sign-out then Back; the key pages in
// Arabic (computed direction rtl, screenshots) and English; one journey with JavaScript off.
// axe-core runs on every page visited: zero serious or critical violations.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import {
  PASSWORD,
  assertAccessible,
  codeIn,
  direction,
  freshEmail,
  linkIn,
  saveScreenshot,
  signIn,
  signUp,
  urlFor,
  visit,
  waitForMail,
} from '../lib/app.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const amina = { name: 'Amina Test', email: freshEmail('amina') };

describe('French journey', { concurrency: false }, () => {
  let context;
  let page;
  let errors;
  before(async () => {
    context = await newContext(browser, { locale: 'fr-FR' });
    page = await context.newPage();
    errors = collectErrors(page);
  });
  after(async () => {
    await context?.close();
  });

  test('sign up, verify by the mail link, sign in, onboarding, dashboard', async () => {
    await visit(page, '/', 'landing');
    await page.click('a[href="/sign-up"] >> nth=0');
    await page.waitForURL(/\/sign-up$/);
    await assertAccessible(page, 'sign-up');
    await signUp(page, amina);
    assert.match(await page.textContent('main'), /ne pouvez pas commencer l’entraînement/);
    await assertAccessible(page, 'verify (sent)');
    const mail = await waitForMail(amina.email, /#token=/);
    const link = linkIn(mail);
    assert.ok(link.startsWith(urlFor('/verify-email#token=')), link);
    // The link opens the page, whose script posts the token: on to sign-in.
    await page.goto(link);
    await page.waitForURL(/\/sign-in\?verified=1/);
    assert.match(await page.textContent('main'), /Adresse confirmée/);
    await assertAccessible(page, 'sign-in (verified)');
    await signIn(page, amina.email);
    await page.waitForURL(/\/onboarding$/);
    await assertAccessible(page, 'onboarding');
    await page.selectOption('#year_of_study', '3');
    await page.fill('#daily_minutes', '45');
    await Promise.all([page.waitForURL(/\/dashboard$/), page.click('form[action="/onboarding"] button[type="submit"]')]);
    assert.match(await page.textContent('h1'), /Bonjour Amina Test/);
    await assertAccessible(page, 'dashboard');
    await visit(page, '/settings', 'settings');
    assert.ok(await page.isVisible('text=Appareils et sessions'));
    await visit(page, '/settings/delete', 'delete confirmation');
    const seen = errors.stop();
    assert.deepEqual(seen, [], `console errors:\n${seen.join('\n')}`);
  });

  test('sign-out, then Back shows no private page', async () => {
    await page.goto(urlFor('/settings'));
    await Promise.all([page.waitForURL(urlFor('/')), page.click('form[action="/sign-out"] button')]);
    await page.goBack();
    await page.waitForLoadState('load');
    assert.ok(!/\/settings$/.test(page.url()) || !(await page.isVisible('text=Appareils et sessions')),
      `a private page came back: ${page.url()}`);
    assert.equal(await page.locator('form[action="/sign-out"]').count(), 0, 'still looks signed in');
    await page.goto(urlFor('/dashboard'));
    await page.waitForURL(/\/sign-in\?next=%2Fdashboard/);
  });
});

describe('password journeys', { concurrency: false }, () => {
  test('wrong password, then the right one', async () => {
    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    await visit(page, '/sign-in', 'sign-in');
    await signIn(page, amina.email, 'pas le bon mot de passe');
    assert.match(await page.title(), /^Erreur :/);
    assert.match(await page.textContent('.error-summary'), /Adresse électronique ou mot de passe incorrect/);
    assert.equal(await page.inputValue('#email'), amina.email, 'the address is kept');
    await assertAccessible(page, 'sign-in (error)');
    await signIn(page, amina.email);
    await page.waitForURL(/\/dashboard$/);
    await context.close();
  });

  test('reset the password through the mail link', async () => {
    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    await visit(page, '/password-reset', 'password reset');
    await page.fill('#email', amina.email);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/password-reset"] button')]);
    assert.match(await page.textContent('main'), /un lien valable 30 minutes/);
    const mail = await waitForMail(amina.email, /password-reset#token=/);
    await page.goto(linkIn(mail));
    assert.ok((await page.inputValue('#token')).length > 20, 'the script filled the token');
    await assertAccessible(page, 'password reset (link)');
    const newPassword = 'un tout nouveau mot de passe';
    await page.fill('#new_password', newPassword);
    await Promise.all([page.waitForURL(/\/sign-in\?reset=1/), page.click('form[action="/password-reset/confirm"] button')]);
    await signIn(page, amina.email, PASSWORD);
    assert.match(await page.title(), /^Erreur :/, 'the old password no longer works');
    await signIn(page, amina.email, newPassword);
    await page.waitForURL(/\/dashboard$/);
    amina.password = newPassword;
    await context.close();
  });
});

const KEY_PAGES = ['/', '/sign-up', '/sign-in', '/verify-email', '/password-reset'];
const PRIVATE_PAGES = ['/dashboard', '/onboarding', '/settings'];

for (const [lang, dir] of [['ar', 'rtl'], ['en', 'ltr']]) {
  describe(`pages in ${lang}`, { concurrency: false }, () => {
    test(`key pages render ${dir} and pass axe`, async () => {
      const context = await newContext(browser, { locale: lang === 'ar' ? 'ar-DZ' : 'en-GB' });
      const page = await context.newPage();
      for (const path of KEY_PAGES) {
        await visit(page, path, `${lang} ${path}`);
        assert.equal(await page.getAttribute('html', 'lang'), lang);
        assert.equal(await direction(page), dir, `${path} direction`);
        if (lang === 'ar') await saveScreenshot(page, `ar${path === '/' ? '-landing' : path.replace(/\//g, '-')}`);
      }
      await signIn(page, amina.email, amina.password ?? PASSWORD);
      // The account's language (French, chosen at sign-up) wins over the browser's: switch it.
      await Promise.all([page.waitForNavigation(), page.click(`.lang-switch button[value="${lang}"]`)]);
      for (const path of PRIVATE_PAGES) {
        await visit(page, path, `${lang} ${path}`);
        assert.equal(await direction(page), dir, `${path} direction`);
        if (lang === 'ar') await saveScreenshot(page, `ar${path.replace(/\//g, '-')}`);
      }
      // The 404 page, localised, with the request id.
      const res = await page.goto(urlFor('/no-such-page'));
      assert.equal(res.status(), 404);
      assert.equal(await direction(page), dir);
      assert.ok((await page.textContent('.request-id')).trim().length > 0);
      await assertAccessible(page, `${lang} 404`);
      await context.close();
    });
  });
}

describe('JavaScript disabled', { concurrency: false }, () => {
  test('sign up, verify with the code, sign in, onboarding', async () => {
    const context = await newContext(browser, { locale: 'fr-FR', javaScriptEnabled: false });
    const page = await context.newPage();
    const who = { name: 'Sans Script', email: freshEmail('nojs') };
    await signUp(page, who);
    const mail = await waitForMail(who.email, /#token=/);
    await page.fill('form[action="/verify-email"]:not([hidden]) #code', codeIn(mail));
    await Promise.all([page.waitForURL(/\/sign-in\?verified=1/), page.click('form[action="/verify-email"]:not([hidden]) button')]);
    await signIn(page, who.email);
    await page.waitForURL(/\/onboarding$/);
    await page.selectOption('#year_of_study', '1');
    await Promise.all([page.waitForURL(/\/dashboard$/), page.click('form[action="/onboarding"] button[type="submit"]')]);
    assert.match(await page.textContent('h1'), /Sans Script/);
    // Switching language works as a plain form too.
    await Promise.all([page.waitForNavigation(), page.click('.lang-switch button[value="ar"]')]);
    assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
    await context.close();
  });
});
