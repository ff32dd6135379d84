// Stored XSS: items whose stem, options, explanations and expected answer carry
// `<img src=x onerror=alert(1)>`, `<script>alert(1)</script>`, `<svg onload>`, `<iframe>` and
// `javascript:` links (e2e/fixtures/xss-bank.json, imported approved by e2e/run.sh into a
// subject of their own) are served in a real session, before and after answering, in tutor and
// exam style. No dialog may open; the rendered item holds no script, no event-handler
// attribute, no javascript: URL; the page logs no error (a CSP refusal would show that the
// sanitiser let something through and only the CSP stopped it).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { signIn, urlFor } from '../lib/app.mjs';
import { XSS_SUBJECT, answerWithForm, answerWithKeyboard, buildSession, demoAccount, progressOf } from '../lib/practice.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Dangerous markup inside <main>: anything here is a sanitiser failure. */
async function dangerousMarkup(page) {
  return page.evaluate(() => {
    const main = document.querySelector('main');
    const found = [];
    for (const el of main.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      // The page's own script file is the only script allowed (no inline code).
      const ownScript = tag === 'script' && /^\/static\/[\w.-]+\.js$/.test(el.getAttribute('src') ?? '') && !el.textContent.trim();
      // The page's own forms post to the application with the CSRF token.
      const ownForm = tag === 'form' && /^\/practice\//.test(el.getAttribute('action') ?? '') && el.querySelector('input[name="_csrf"]');
      if (['script', 'iframe', 'object', 'embed', 'svg', 'style', 'base', 'form', 'meta', 'link'].includes(tag) && !ownScript && !ownForm) {
        found.push(el.outerHTML.slice(0, 120));
      }
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) found.push(`${tag}[${a.name}]`);
        if (/^\s*javascript:/i.test(a.value)) found.push(`${tag}[${a.name}=${a.value}]`);
      }
    }
    for (const img of main.querySelectorAll('img')) {
      if (!img.getAttribute('src')?.startsWith('/api/v1/media/')) found.push(`img[src=${img.getAttribute('src')}]`);
    }
    return found;
  });
}

/** The payload is shown as text (escaped) or dropped, never run: the item text is still there. */
async function assertInert(page, label) {
  assert.deepEqual(await dangerousMarkup(page), [], `${label}: dangerous markup in the page`);
  assert.match(await page.innerText('main .stem'), /Énoncé piégé numéro/, `${label}: the stem is shown`);
}

for (const style of ['tutor', 'exam']) {
  describe(`hostile items, ${style} session`, { concurrency: false }, () => {
    test('no dialog, no script, no handler, no javascript: link', async () => {
      const context = await newContext(browser, { locale: 'fr-FR' });
      const page = await context.newPage();
      const dialogs = [];
      page.on('dialog', async (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        await d.dismiss().catch(() => {});
      });
      const student = await demoAccount('student');
      await signIn(page, student.email, student.password);
      await page.goto(urlFor('/practice'));
      if (await page.locator('#subject').count() === 0) {
        // The demo student has no year of study yet: set it (the hostile subject is in year 3).
        await page.goto(urlFor('/onboarding'));
        await page.selectOption('#year_of_study', '3');
        await Promise.all([page.waitForURL(/\/dashboard$/), page.click('form[action="/onboarding"] button[type="submit"]')]);
        await page.goto(urlFor('/practice'));
      }
      const errors = collectErrors(page);
      const id = await buildSession(page, { subject: XSS_SUBJECT, style, count: 3 });
      for (let i = 1; i <= 3; i += 1) {
        assert.deepEqual(await progressOf(page), { n: i, total: 3 });
        await assertInert(page, `${style} item ${i}`);
        // Keyboard on the first item (the shortcuts script reads the options), forms after.
        if (i === 1) await answerWithKeyboard(page, { text: '<img src=x onerror=alert(1)>' });
        else await answerWithForm(page, { text: '<script>alert(1)</script>' });
        if (style === 'tutor') {
          await assertInert(page, `${style} item ${i} feedback`);
          assert.ok((await page.locator('.feedback .explanation').count()) > 0, 'the explanations are rendered');
          await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a[data-shortcut="next"]')]);
        }
      }
      await page.waitForURL(new RegExp(`/practice/${id}/summary$`));
      const review = page.locator(`main a[href^="/practice/${id}/review"]`);
      if ((await review.count()) > 0) {
        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), review.first().click()]);
        assert.deepEqual(await dangerousMarkup(page), [], 'review: dangerous markup');
      }
      const seen = errors.stop();
      assert.deepEqual(dialogs, [], `dialogs opened:\n${dialogs.join('\n')}`);
      assert.deepEqual(seen, [], `console errors (CSP refusals?):\n${seen.join('\n')}`);
      await context.close();
    });
  });
}
