// Staff console in a real browser. The demo author signs in with the TOTP code computed from the
// secret the demo seed printed, writes a QCM whose stem and options carry stored-XSS payloads,
// previews it and submits it for review; the demo reviewer finds it in the queue, sees the
// payload as inert text (no dialog, no script or event handler in the page), approves it, and
// the queue no longer holds it; the admin opens the jobs page. axe-core (serious and critical)
// runs on every staff page visited, in French and in Arabic (computed direction rtl).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { assertAccessible, direction, signIn, totp, urlFor, visit } from '../lib/app.mjs';
import { demoAccount, demoTotpSecret, freshDemoTotp } from '../lib/practice.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const STEM = 'XSS-E2E <img src=x onerror=alert(1)> Quelle est la cause la plus fréquente ? <script>alert(2)</script>';

/** Signs a demo staff account in: password, then the TOTP step. */
async function staffSignIn(page, role) {
  const { email, password } = await demoAccount(role);
  await signIn(page, email, password);
  await page.waitForSelector('#totp_code');
  await page.fill('#totp_code', await freshDemoTotp(role));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type="submit"]')]);
  assert.ok(!page.url().includes('/sign-in'), `${role} is signed in (now on ${page.url()})`);
}

/** Switches the language from the footer (a plain form). */
async function useLanguage(page, lang) {
  await Promise.all([page.waitForNavigation(), page.click(`.lang-switch button[value="${lang}"]`)]);
  assert.equal(await page.getAttribute('html', 'lang'), lang);
}

/** Script elements, event-handler attributes or javascript: URLs inside <main>. */
async function activeMarkup(page) {
  return page.evaluate(() => {
    const found = [];
    for (const el of document.querySelectorAll('main *')) {
      if (el.tagName.toLowerCase() === 'script') found.push('script');
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) found.push(`${el.tagName}[${a.name}]`);
        if (/^\s*javascript:/i.test(a.value)) found.push(`${el.tagName}[${a.name}=javascript:]`);
      }
    }
    return found;
  });
}

describe('staff console', () => {
  test('author writes, reviewer approves, staff pages are accessible in fr and ar', async () => {
    const dialogs = [];
    const ctx = await newContext(browser);

    // ---- author
    const author = await ctx.newPage();
    author.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
    const authorErrors = collectErrors(author);
    await staffSignIn(author, 'author');
    await visit(author, '/author', 'fr author list');
    await visit(author, '/author/items/new', 'fr author editor (new)');
    await author.check('input[name="kind"][value="qcm"]');
    const course = await author.$eval('#course', (s) => [...s.options].find((o) => o.value)?.value);
    assert.ok(course, 'the editor offers a course');
    await author.selectOption('#course', course);
    await author.fill('#stem', STEM);
    const options = ['Hypertension essentielle <svg onload=alert(3)>', 'Phéochromocytome', 'Coarctation', 'Hyperaldostéronisme'];
    for (const [i, text] of options.entries()) {
      await author.fill(`#option_text_${i}`, text);
    }
    await author.check('input[name="option_correct_0"]');
    await author.fill('#explanation', 'La forme essentielle représente plus de 90 % des cas.');
    const kc = await author.$('input[name="kcs"]');
    if (kc) await kc.check();
    await Promise.all([
      author.waitForURL(/\/author\/items\/[0-9a-f-]{36}/),
      author.click('button[name="intent"][value="save"]'),
    ]);
    const itemId = /\/author\/items\/([0-9a-f-]{36})/.exec(author.url())[1];
    await assertAccessible(author, 'fr author editor (saved draft)');
    assert.deepEqual(await activeMarkup(author), [], 'the saved draft page holds no active markup');
    await Promise.all([
      author.waitForNavigation({ waitUntil: 'load' }),
      author.click(`form[action="/author/items/${itemId}/submit"] button[type="submit"]`),
    ]);
    assert.deepEqual(authorErrors.stop(), [], 'no console error on the author pages');

    // ---- reviewer (own context: another account)
    const rctx = await newContext(browser);
    const reviewer = await rctx.newPage();
    reviewer.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
    const reviewerErrors = collectErrors(reviewer);
    await staffSignIn(reviewer, 'reviewer');
    await visit(reviewer, '/review', 'fr review queue');
    assert.ok(await reviewer.$(`a[href="/review/items/${itemId}"]`), 'the submitted item is in the queue');
    await visit(reviewer, `/review/items/${itemId}`, 'fr review item (diff and preview)');
    assert.ok((await reviewer.textContent('main')).includes('XSS-E2E'), 'the stem is shown');
    assert.deepEqual(await activeMarkup(reviewer), [], 'the review page holds no active markup');
    await Promise.all([
      reviewer.waitForNavigation({ waitUntil: 'load' }),
      reviewer.click('button[name="decision"][value="approve"]'),
    ]);
    await visit(reviewer, '/review', 'fr review queue (after approval)');
    assert.equal(await reviewer.$(`a[href="/review/items/${itemId}"]`), null, 'the approved item left the queue');
    await visit(reviewer, '/review/reports', 'fr report triage');
    await useLanguage(reviewer, 'ar');
    assert.equal(await direction(reviewer), 'rtl');
    await visit(reviewer, '/review', 'ar review queue');
    await visit(reviewer, `/review/items/${itemId}`, 'ar review item');
    await visit(reviewer, '/review/reports', 'ar report triage');
    await useLanguage(reviewer, 'fr');
    assert.deepEqual(reviewerErrors.stop(), [], 'no console error on the review pages');

    // ---- admin: the jobs page (live rows follow their event stream)
    const actx = await newContext(browser);
    const admin = await actx.newPage();
    const adminErrors = collectErrors(admin);
    await staffSignIn(admin, 'admin');
    await visit(admin, '/admin/jobs', 'fr admin jobs');
    await useLanguage(admin, 'ar');
    await visit(admin, '/admin/jobs', 'ar admin jobs');
    await useLanguage(admin, 'fr');
    assert.deepEqual(adminErrors.stop(), [], 'no console error on the admin pages');

    assert.deepEqual(dialogs, [], 'no payload ran');
    await ctx.close();
    await rctx.close();
    await actx.close();
  });
});
